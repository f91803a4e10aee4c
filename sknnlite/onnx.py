"""Export fitted sknnlite models to ONNX, through skl2onnx.

Importing this module registers converters, shape calculators and parsers for
:class:`~sknnlite.NNRegressor` and :class:`~sknnlite.NNClassifier` with
skl2onnx, so that ``skl2onnx.to_onnx(model, X[:1])`` converts a bare model as
well as a ``Pipeline`` or ``ColumnTransformer`` that contains one.
:func:`to_onnx` does the same and picks an opset the installed onnxruntime
can run. Needs the optional extra ``onnx`` (``pip install "sknnlite[onnx]"``:
skl2onnx, onnx, onnxruntime); ``import sknnlite`` never imports it.

The graph computes what ``predict`` computes, in the model's dtype (the one
it was trained in, whatever the dtype of the ONNX input; a DataFrame gives
one input per column, concatenated in order), from public fitted
attributes only: every layer of ``layers_`` (Dense, the activations,
BatchNorm with its running statistics, Dropout as the identity), the
regressor's inverse link (``exp`` for Poisson) and target de-standardisation,
and the classifier's sigmoid or softmax. Outputs follow skl2onnx's own
MLPRegressor/MLPClassifier converters:

* ``NNRegressor``: one output ``variable`` of shape ``(N, n_outputs_)``, also
  for a single target (as MLPRegressor's converter does). With a ``Quantile``
  loss, ``(N, n_outputs_ * n_quantiles)``: each target's quantiles side by
  side, sorted as ``predict`` sorts them.
* ``NNClassifier``: ``label`` (``int64``, or ``string`` for string labels;
  ``(N, n_labels)`` 0/1 for multilabel ``y``) and ``probabilities``, which by
  default go through a ZipMap into a list of ``{label: probability}``
  dictionaries. The options are those of MLPClassifier's converter:
  ``zipmap`` (``True``, ``False`` for an ``(N, n_classes)`` tensor in the
  model's dtype, ``"columns"`` for one output per class), ``nocl`` (labels
  ``0 .. n_classes - 1`` instead of ``classes_``) and ``output_class_labels``.
  ONNX's ZipMap takes ``float32`` only, so a ``float64`` model's
  probabilities are cast for it; pass ``zipmap=False`` to keep ``float64``.

A layer of your own converts when it defines the optional hook
``onnx_forward(graph, x)`` described in :class:`sknnlite.Layer`; it receives
an :class:`OnnxGraph`.
"""

import functools
import math

import numpy as np

try:
    import onnx
    import skl2onnx
    from onnx import numpy_helper
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
    from skl2onnx.common.utils_classifier import get_label_classes
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sknnlite.onnx needs skl2onnx, onnx and onnxruntime; install them with "
        'pip install "sknnlite[onnx]".'
    ) from error

from .activations import (
    ELU,
    GELU,
    SELU,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Softsign,
    Tanh,
)
from .classifier import NNClassifier
from .dropout import Dropout
from .layers import Dense
from .losses import Loss, Poisson, SoftmaxCrossEntropy
from .normalization import BatchNorm
from .regressor import NNRegressor

__all__ = ["OnnxGraph", "default_opset", "to_onnx"]

#: Options of the classifier converter, as for skl2onnx's MLPClassifier.
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
}


def to_onnx(model, X, *, target_opset=None, options=None, **kwargs):
    """Convert a fitted model, or a pipeline containing one, to ONNX.

    Parameters
    ----------
    model : estimator
        A fitted ``NNRegressor`` or ``NNClassifier``, or any scikit-learn
        pipeline or composite that skl2onnx converts and contains one.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Example input: its dtype (``float32`` or ``float64``) becomes the
        ONNX input's; a DataFrame becomes one input per column, named after
        it. One row is enough.
    target_opset : int or dict, default=None
        ONNX opset; ``None`` takes the newest one that both skl2onnx has
        tested and the installed onnxruntime runs.
    options : dict, default=None
        Converter options, e.g. ``{"zipmap": False}``; see the module
        docstring.
    **kwargs
        Passed on to :func:`skl2onnx.to_onnx`.

    Returns
    -------
    onx : onnx.ModelProto
        The model; ``onx.SerializeToString()`` is what to save or load into
        ``onnxruntime.InferenceSession``.

    Raises
    ------
    ValueError
        If a layer has no ONNX translation (a layer of your own without an
        ``onnx_forward`` method), naming it.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from sknnlite import NNClassifier
    >>> from sknnlite.onnx import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> model = NNClassifier(learning_rate=0.01, tol=1e-3, random_state=0).fit(X, y)
    >>> onx = to_onnx(model, X[:1], options={"zipmap": False})
    >>> session = ort.InferenceSession(onx.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> labels, proba = session.run(None, {"X": X})
    >>> bool((labels == model.predict(X)).all()), proba.shape
    (True, (150, 3))
    """
    if target_opset is None:
        target_opset = default_opset()
    return skl2onnx.to_onnx(
        model, X, target_opset=target_opset, options=options, **kwargs
    )


@functools.cache
def default_opset():
    """Newest opset that skl2onnx has tested and onnxruntime (if installed) runs.

    Returns
    -------
    opset : int

    Examples
    --------
    >>> from sknnlite.onnx import default_opset
    >>> default_opset() >= 13
    True
    """
    newest = skl2onnx.get_latest_tested_opset_version()
    try:
        import onnxruntime
    except ImportError:
        return newest
    for opset in range(newest, 12, -1):
        if _runtime_loads(onnxruntime, opset):
            return opset
    return newest


def _runtime_loads(onnxruntime, opset):
    """Whether onnxruntime accepts a one-node model stamped with ``opset``."""
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    output = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([node], "probe", [value], [output])
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    try:
        onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
    except Exception:  # onnxruntime raises several types for "unsupported"
        return False
    return True


class OnnxGraph:
    """The ONNX graph a model is being written into, as a layer's hook sees it.

    A layer's ``onnx_forward(graph, x)`` adds the nodes of its inference
    computation with :meth:`node` and :meth:`constant`, starting from the
    tensor named ``x`` (shape ``(N, n_inputs)``, dtype :attr:`dtype`), and
    returns the name of its output tensor.

    Attributes
    ----------
    dtype : numpy.dtype
        Floating dtype of the model (``float32`` or ``float64``); floating
        constants are stored in it.
    target_opset : int
        Opset of the default ONNX domain being written.

    Examples
    --------
    A layer of your own converts once it has ``onnx_forward``:

    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sknnlite import Dense, Layer, NNRegressor, ReLU
    >>> from sknnlite.onnx import to_onnx
    >>> class Double(Layer):
    ...     def forward(self, x, training=False):
    ...         return 2 * x
    ...
    ...     def backward(self, grad_out):
    ...         return 2 * grad_out
    ...
    ...     def onnx_forward(self, graph, x):
    ...         return graph.node("Mul", [x, graph.constant(2.0)])
    >>> X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    >>> y = X.sum(axis=1)
    >>> model = NNRegressor([Double(), Dense(4), ReLU(), Dense()], learning_rate=0.01,
    ...                     tol=1e-3, random_state=0).fit(X, y)
    >>> session = ort.InferenceSession(to_onnx(model, X[:1]).SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> (onnx_pred,) = session.run(None, {"X": X})
    >>> bool(np.allclose(onnx_pred[:, 0], model.predict(X), rtol=1e-5, atol=1e-5))
    True
    """

    def __init__(self, scope, container, dtype):
        self._scope = scope
        self._container = container
        self._constants = {}
        self.dtype = np.dtype(dtype)
        self.target_opset = container.target_opset

    def node(self, op_type, inputs, *, domain="", n_outputs=1, **attributes):
        """Add an ONNX node and return the name of its output(s).

        Parameters
        ----------
        op_type : str
            ONNX operator, e.g. ``"Mul"`` or ``"Tanh"``.
        inputs : list of str
            Names of input tensors (``x``, outputs of earlier nodes,
            :meth:`constant`).
        domain : str, default=""
            Operator domain; ``""`` is the default ONNX domain.
        n_outputs : int, default=1
            Number of outputs of the node.
        **attributes
            ONNX attributes of the node, e.g. ``axis=1``.

        Returns
        -------
        name : str or tuple of str
            The output's name, or a tuple of names when ``n_outputs > 1``.
        """
        outputs = [
            self._scope.get_unique_variable_name(op_type.lower())
            for _ in range(n_outputs)
        ]
        self._add(op_type, inputs, outputs, domain, attributes)
        return outputs[0] if n_outputs == 1 else tuple(outputs)

    def constant(self, value):
        """Store ``value`` in the graph and return its name.

        Parameters
        ----------
        value : array-like or scalar
            Floating values are stored in :attr:`dtype`, integers as
            ``int64``, strings and booleans as they are.

        Returns
        -------
        name : str
        """
        value = np.asarray(value)
        if value.dtype.kind == "f":
            value = value.astype(self.dtype)
        elif value.dtype.kind in "iu":
            value = value.astype(np.int64)
        key = (value.dtype.str, value.shape, value.tobytes())
        if value.size <= 16 and key in self._constants:
            return self._constants[key]
        name = self._scope.get_unique_variable_name("constant")
        if value.dtype.kind in "USO":
            data = [str(item).encode("utf-8") for item in value.ravel()]
            self._container.add_initializer(
                name, onnx.TensorProto.STRING, list(value.shape), data
            )
        else:
            tensor = numpy_helper.from_array(value, name)
            self._container.add_initializer(name, None, None, tensor)
        if value.size <= 16:
            self._constants[key] = name
        return name

    def layer(self, layer, x, name=None):
        """Add a layer's predict-time nodes and return the name of its output.

        For container layers, whose ``onnx_forward`` adds each member's
        nodes this way: a built-in layer through its translation, any other
        through its own ``onnx_forward``.

        Parameters
        ----------
        layer : Layer
            A built layer.
        x : str
            Name of its input tensor.
        name : str, default=None
            How to name the layer in an error, e.g. ``"Residual[0]"``.

        Returns
        -------
        name : str

        Raises
        ------
        ValueError
            If the layer has no translation and no ``onnx_forward``.
        """
        return _layer_output(layer, name or type(layer).__name__, self, x)

    def _add(self, op_type, inputs, outputs, domain="", attributes=None):
        """Add a node writing the given ``outputs`` names."""
        self._container.add_node(
            op_type,
            list(inputs),
            list(outputs),
            op_domain=domain,
            name=self._scope.get_unique_operator_name(op_type),
            **(attributes or {}),
        )


# ------------------------------------------------------------------ layers
# Each translation mirrors the layer's NumPy ``forward(x, training=False)``
# operation by operation, with constants in the model's dtype, so that
# onnxruntime rounds as NumPy does wherever both use the same formula.


def _dense(layer, graph, x):
    out = graph.node("MatMul", [x, graph.constant(layer.params["W"])])
    if "b" in layer.params:
        out = graph.node("Add", [out, graph.constant(layer.params["b"])])
    return out


def _batch_norm(layer, graph, x):
    """Inference form: the running statistics, with ``1 / sqrt(var + eps)`` folded."""
    var = layer.running_var_
    inv_std = 1 / np.sqrt(var + var.dtype.type(layer.epsilon))
    x_hat = graph.node("Sub", [x, graph.constant(layer.running_mean_)])
    x_hat = graph.node("Mul", [x_hat, graph.constant(inv_std)])
    out = graph.node("Mul", [x_hat, graph.constant(layer.params["gamma"])])
    return graph.node("Add", [out, graph.constant(layer.params["beta"])])


def _identity(layer, graph, x):
    return x


def _relu(layer, graph, x):
    return graph.node("Relu", [x])


def _tanh(layer, graph, x):
    return graph.node("Tanh", [x])


def _sigmoid(layer, graph, x):
    """``0.5 * (1 + tanh(x / 2))``, the formula of the NumPy layer."""
    half = graph.constant(0.5)
    out = graph.node("Tanh", [graph.node("Mul", [x, half])])
    out = graph.node("Add", [out, graph.constant(1.0)])
    return graph.node("Mul", [out, half])


def _leaky_relu(layer, graph, x):
    scaled = graph.node("Mul", [x, graph.constant(layer.negative_slope)])
    positive = graph.node("Greater", [x, graph.constant(0.0)])
    return graph.node("Where", [positive, x, scaled])


def _expm1(graph, x):
    """``exp(x) - 1`` to full relative precision near 0, as ``tanh(x/2) (exp(x) + 1)``.

    ONNX has no ``expm1``, and ``exp(x) - 1`` loses the digits that NumPy's
    ``expm1`` keeps for small ``x``.
    """
    tanh_half = graph.node("Tanh", [graph.node("Mul", [x, graph.constant(0.5)])])
    exp_plus_1 = graph.node("Add", [graph.node("Exp", [x]), graph.constant(1.0)])
    return graph.node("Mul", [tanh_half, exp_plus_1])


def _elu_nodes(graph, x, alpha, scale):
    """``scale * (x if x > 0 else alpha * expm1(x))``, as ``activations._elu``."""
    negative = _expm1(graph, graph.node("Min", [x, graph.constant(0.0)]))
    negative = graph.node("Mul", [negative, graph.constant(alpha)])
    positive = graph.node("Greater", [x, graph.constant(0.0)])
    out = graph.node("Where", [positive, x, negative])
    if scale != 1.0:
        out = graph.node("Mul", [out, graph.constant(scale)])
    return out


def _elu(layer, graph, x):
    return _elu_nodes(graph, x, layer.alpha, 1.0)


#: SELU's constants (Klambauer et al., 2017), as documented on the class.
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def _selu(layer, graph, x):
    return _elu_nodes(graph, x, _SELU_ALPHA, _SELU_SCALE)


def _softplus(layer, graph, x):
    """``max(x, 0) + log1p(exp(-|x|))``, as NumPy's ``logaddexp(0, x)``.

    Built from elementary operators: onnxruntime's ``Softplus`` has no
    float64 kernel at recent opsets.
    """
    decay = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [x])])])
    return graph.node("Add", [graph.node("Relu", [x]), _log1p(graph, decay)])


def _log1p(graph, t):
    """``log(1 + t)`` to full relative precision for small ``t``.

    ``log(u) * t / (u - 1)`` with ``u = 1 + t`` rounded, and ``t`` itself
    where ``u`` rounds to 1 (Goldberg, "What every computer scientist should
    know about floating-point arithmetic", 1991, Theorem 4).
    """
    u = graph.node("Add", [t, graph.constant(1.0)])
    u_minus_1 = graph.node("Sub", [u, graph.constant(1.0)])
    ratio = graph.node("Div", [t, u_minus_1])
    value = graph.node("Mul", [graph.node("Log", [u]), ratio])
    rounds_to_1 = graph.node("Equal", [u_minus_1, graph.constant(0.0)])
    return graph.node("Where", [rounds_to_1, t, value])


def _softsign(layer, graph, x):
    denominator = graph.node("Add", [graph.node("Abs", [x]), graph.constant(1.0)])
    return graph.node("Div", [x, denominator])


def _silu(layer, graph, x):
    return graph.node("Mul", [_sigmoid(layer, graph, x), x])


def _mish(layer, graph, x):
    softplus = _softplus(layer, graph, x)
    return graph.node("Mul", [graph.node("Tanh", [softplus]), x])


def _gelu(layer, graph, x):
    """``x * (1 + erf(x / sqrt(2))) / 2``, the exact form of the NumPy layer."""
    scaled = graph.node("Mul", [x, graph.constant(1 / math.sqrt(2))])
    erf = _erf(graph, scaled)
    cdf = graph.node("Add", [erf, graph.constant(1.0)])
    cdf = graph.node("Mul", [cdf, graph.constant(0.5)])
    return graph.node("Mul", [cdf, x])


def _erf(graph, x):
    """``erf(x)``: ONNX's ``Erf`` in float32; for float64, which onnxruntime's
    ``Erf`` lacks, Cephes' rational approximations in elementary operators."""
    if graph.dtype == np.float32:
        return graph.node("Erf", [x])
    return _erf_float64(graph, x)


# Coefficients of the rational approximations of erf and erfc in Cephes
# (S. L. Moshier, "Methods and Programs for Mathematical Functions", 1989,
# ndtr.c), which scipy.special.erf also uses: highest power first; the
# denominators are monic (leading 1 left out).
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_ERFC_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_ERFC_S = (
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)


def _erf_float64(graph, x):
    """Cephes' erf: ``x T(x²) / U(x²)`` for ``|x| <= 1``, else ``±(1 - erfc|x|)``."""
    z = graph.node("Mul", [x, x])
    small = graph.node("Mul", [x, _polynomial(graph, z, _ERF_T)])
    small = graph.node("Div", [small, _polynomial(graph, z, _ERF_U, monic=True)])
    magnitude = graph.node("Abs", [x])
    # erfc(10) is 2e-45: clamping keeps the unused branches finite.
    a = graph.node("Min", [magnitude, graph.constant(10.0)])
    decay = graph.node("Exp", [graph.node("Neg", [graph.node("Mul", [a, a])])])
    near = _ratio(graph, a, _ERFC_P, _ERFC_Q)
    far = _ratio(graph, a, _ERFC_R, _ERFC_S)
    below_8 = graph.node("Less", [a, graph.constant(8.0)])
    erfc = graph.node("Mul", [decay, graph.node("Where", [below_8, near, far])])
    large = graph.node("Sub", [graph.constant(1.0), erfc])
    large = graph.node("Mul", [graph.node("Sign", [x]), large])
    beyond_1 = graph.node("Greater", [magnitude, graph.constant(1.0)])
    return graph.node("Where", [beyond_1, large, small])


def _ratio(graph, x, numerator, denominator):
    """``numerator(x) / denominator(x)``, the denominator monic."""
    top = _polynomial(graph, x, numerator)
    return graph.node("Div", [top, _polynomial(graph, x, denominator, monic=True)])


def _polynomial(graph, x, coefficients, monic=False):
    """Horner's scheme, highest power first; ``monic`` prepends a leading 1."""
    if monic:
        value = graph.node("Add", [x, graph.constant(coefficients[0])])
    else:
        value = graph.constant(coefficients[0])
    for coefficient in coefficients[1:]:
        value = graph.node("Mul", [value, x])
        value = graph.node("Add", [value, graph.constant(coefficient)])
    return value


#: Translation of each built-in layer type.
_LAYER_TRANSLATIONS = {
    Dense: _dense,
    BatchNorm: _batch_norm,
    Dropout: _identity,
    Identity: _identity,
    ReLU: _relu,
    LeakyReLU: _leaky_relu,
    Sigmoid: _sigmoid,
    Tanh: _tanh,
    Softplus: _softplus,
    ELU: _elu,
    SELU: _selu,
    GELU: _gelu,
    SiLU: _silu,
    Mish: _mish,
    Softsign: _softsign,
}


def _layer_output(layer, where, graph, x):
    """Add ``layer``'s nodes, through its hook or a built-in translation.

    ``where`` names the layer in an error: ``layers[2]`` or ``Residual[0]``.
    """
    hook = getattr(layer, "onnx_forward", None)
    if hook is not None:
        return hook(graph, x)
    translation = _LAYER_TRANSLATIONS.get(type(layer))
    if translation is None:
        name = type(layer).__name__
        raise ValueError(
            f"{where} ({name}) has no ONNX translation. Give {name} a "
            "method onnx_forward(self, graph, x) that adds its predict-time "
            "computation with graph.node(op_type, inputs) and graph.constant("
            "value) and returns the name of its output; see help(sknnlite.Layer), "
            "'ONNX export'."
        )
    return translation(layer, graph, x)


# ------------------------------------------------------------ estimators
def _network_output(graph, model, operator):
    """Cast the input(s) to the model's dtype and run them through ``layers_``.

    A DataFrame gives skl2onnx one input per column, which are concatenated
    in order (MLP's converters accept a single input only).
    """
    proto_type = _proto_type(graph.dtype)
    columns = []
    for variable in operator.inputs:
        name = variable.full_name
        if guess_proto_type(variable.type) != proto_type:
            name = graph.node("Cast", [name], to=proto_type)
        columns.append(name)
    x = columns[0] if len(columns) == 1 else graph.node("Concat", columns, axis=1)
    for index, layer in enumerate(model.layers_):
        x = _layer_output(layer, f"layers[{index}]", graph, x)
    return x


def _target_shift_and_scale(model):
    """The regressor's de-standardisation: ``y = link(output) * scale + shift``.

    Per network output: a target's values repeat for each of its quantiles.
    """
    return model._per_output(model.target_center_), model._per_output(
        model.target_scale_
    )


def _inverse_link(graph, loss, raw):
    """The loss's map from network output to prediction (``exp`` for Poisson)."""
    hook = getattr(loss, "onnx_inverse_link", None)
    if hook is not None:
        return hook(graph, raw)
    method = type(loss).inverse_link
    if method is Loss.inverse_link:
        return raw
    if method is Poisson.inverse_link:
        return graph.node("Exp", [raw])
    name = type(loss).__name__
    raise ValueError(
        f"The loss {name} has its own inverse_link, which has no ONNX "
        f"translation. Give {name} a method onnx_inverse_link(self, graph, x) "
        "that adds it with graph.node(...) and returns the output's name, as "
        "a layer's onnx_forward does."
    )


def _convert_regressor(scope, operator, container):
    """skl2onnx converter for NNRegressor: ``variable`` of shape (N, n_outputs_)."""
    model = operator.raw_operator
    graph = OnnxGraph(scope, container, model.network_.dtype)
    out = _network_output(graph, model, operator)
    out = _inverse_link(graph, model.loss_function_, out)
    shift, scale = _target_shift_and_scale(model)
    if np.any(scale != 1):
        out = graph.node("Mul", [out, graph.constant(scale)])
    if np.any(shift != 0):
        out = graph.node("Add", [out, graph.constant(shift)])
    graph._add("Identity", [out], [operator.outputs[0].full_name])


def _regressor_shapes(operator):
    """Output type: the model's float type, shape (N, n_outputs_)."""
    check_input_and_output_numbers(
        operator, input_count_range=[1, None], output_count_range=1
    )
    model = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    tensor_type = _tensor_type(model.network_.dtype)
    operator.outputs[0].set_type(tensor_type([n_rows, model.network_.n_outputs]))


def _classifier_kind(model):
    """``"binary"`` (one logit), ``"multiclass"`` (softmax) or ``"multilabel"``."""
    if model.n_outputs_ == 1:
        return "binary"
    if isinstance(model.loss_function_, SoftmaxCrossEntropy):
        return "multiclass"
    return "multilabel"


def _convert_classifier(scope, operator, container):
    """skl2onnx converter for NNClassifier: ``label`` and ``probabilities``."""
    model = operator.raw_operator
    graph = OnnxGraph(scope, container, model.network_.dtype)
    logits = _network_output(graph, model, operator)
    kind = _classifier_kind(model)
    proba = _probabilities(graph, logits, kind)
    proba_dtype = _probability_dtype(scope, model)
    if proba_dtype != graph.dtype:
        proba = graph.node("Cast", [proba], to=_proto_type(proba_dtype))
    graph._add("Identity", [proba], [operator.outputs[1].full_name])
    classes = _label_values(get_label_classes(scope, model))
    labels = _labels(graph, logits, kind, classes)
    graph._add("Identity", [labels], [operator.outputs[0].full_name])


def _probabilities(graph, logits, kind):
    """``predict_proba`` from the logits."""
    if kind == "multiclass":
        return graph.node("Softmax", [logits], axis=1)
    positive = graph.node("Sigmoid", [logits])
    if kind == "multilabel":
        return positive
    negative = graph.node("Sigmoid", [graph.node("Neg", [logits])])
    return graph.node("Concat", [negative, positive], axis=1)


def _labels(graph, logits, kind, classes):
    """``predict`` from the logits, as NNClassifier decides (logit > 0, argmax)."""
    int64 = onnx.TensorProto.INT64
    if kind == "multilabel":
        positive = graph.node("Greater", [logits, graph.constant(0.0)])
        return graph.node("Cast", [positive], to=int64)
    if kind == "binary":
        positive = graph.node("Greater", [logits, graph.constant(0.0)])
        index = graph.node("Cast", [positive], to=int64)
        index = graph.node("Reshape", [index, graph.constant(np.array([-1]))])
    else:
        index = graph.node("ArgMax", [logits], axis=1, keepdims=0)
    return graph.node("Gather", [graph.constant(classes), index], axis=0)


def _label_values(classes):
    """Class labels as ONNX stores them: ``int64`` or strings.

    Float labels are whole numbers (scikit-learn refuses others as classes),
    so they become ``int64`` as in skl2onnx's own classifiers.
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        return classes.astype(np.int64)
    return classes.astype(str)


def _classifier_shapes(operator):
    """Label and probability types and shapes, as skl2onnx's classifiers."""
    check_input_and_output_numbers(
        operator, input_count_range=[1, None], output_count_range=2
    )
    model = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    classes = _label_values(get_label_classes(operator.scope_inst, model))
    multilabel = _classifier_kind(model) == "multilabel"
    label_shape = [n_rows, len(classes)] if multilabel else [n_rows]
    label_type = Int64TensorType if classes.dtype == np.int64 else StringTensorType
    operator.outputs[0].set_type(label_type(label_shape))
    proba_type = _tensor_type(_probability_dtype(operator.scope_inst, model))
    operator.outputs[1].set_type(proba_type([n_rows, len(classes)]))


def _probability_dtype(scope, model):
    """The model's dtype, or float32 for ONNX's ZipMap (``zipmap=True``)."""
    zipmap = scope.get_options(model, dict(zipmap=True))["zipmap"]
    return np.dtype(np.float32) if zipmap is True else model.network_.dtype


def _proto_type(dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _tensor_type(dtype):
    return DoubleTensorType if np.dtype(dtype) == np.float64 else FloatTensorType


def _register():
    """Make skl2onnx convert NNRegressor and NNClassifier."""
    skl2onnx.update_registered_converter(
        NNRegressor, "SknnliteNNRegressor", _regressor_shapes, _convert_regressor
    )
    skl2onnx.update_registered_converter(
        NNClassifier,
        "SknnliteNNClassifier",
        _classifier_shapes,
        _convert_classifier,
        options=_CLASSIFIER_OPTIONS,
    )


_register()
