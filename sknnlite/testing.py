"""Checks for layers you write yourself: the contract, gradients, purity.

:func:`check_layer` runs every check of the layer contract (see
:class:`sknnlite.Layer`) on one layer and raises an ``AssertionError`` that
lists what is wrong and how to fix it: shapes, numerical gradients (at
random, non-trivial parameter values), gradients written in place, an
inference ``forward`` that writes nothing on the layer and gives the same
result from several threads at once, pickling and cloning. Run it in your
tests on every layer you write.

The gradient checkers compare the gradients your ``backward`` (or
``value_and_gradient``) computes with central finite differences, in
float64, and tell you which array is wrong and by how much.
:func:`check_estimator_gradients` checks a whole estimator's network with
its loss and L2 penalty on data you give.

Layers that draw random numbers while training (``Dropout``) are checked
with one fixed draw: every :class:`numpy.random.Generator` attribute of a
layer is rewound before each forward pass and left where it was at the end.
State that training updates (``BatchNorm``'s running statistics) is restored
too, so checking a fitted model does not change it.
"""

import copy
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from .layers import Layer, Workspace, build_layer
from .network import Network, all_finite

__all__ = [
    "GradientReport",
    "check_layer",
    "check_layer_gradients",
    "check_loss_gradient",
    "check_network_gradients",
    "check_estimator_gradients",
]


@dataclass
class GradientReport:
    """Relative errors of analytical against numerical gradients.

    Attributes
    ----------
    errors : dict of str to float
        ``||analytic - numeric|| / (||analytic|| + ||numeric||)`` per array,
        or ``||analytic - numeric||`` when both norms sum to less than 1e-7
        (a parameter the loss does not depend on, such as the bias of a
        ``Dense`` followed by ``BatchNorm``).
    tolerance : float
        Largest acceptable relative error.

    Examples
    --------
    >>> from sknnlite import Tanh
    >>> from sknnlite.testing import check_layer_gradients
    >>> report = check_layer_gradients(Tanh())
    >>> report.ok, report.worst[0]
    (True, 'input')
    >>> report.raise_if_wrong() is report
    True
    """

    errors: dict
    tolerance: float

    @property
    def worst(self):
        """``(name, error)`` of the array with the largest error."""
        return max(self.errors.items(), key=lambda item: item[1])

    @property
    def ok(self):
        """True when every relative error is at most ``tolerance``."""
        return all(error <= self.tolerance for error in self.errors.values())

    def raise_if_wrong(self):
        """Raise ``AssertionError`` naming every array above the tolerance."""
        wrong = {k: v for k, v in self.errors.items() if not v <= self.tolerance}
        if wrong:
            details = ", ".join(f"{k}: {v:.2e}" for k, v in wrong.items())
            raise AssertionError(
                f"Gradient check failed (tolerance {self.tolerance:.0e}); relative "
                f"error per array: {details}"
            )
        return self

    def __str__(self):
        rows = [f"  {k:<24} {v:.2e}" for k, v in self.errors.items()]
        verdict = "ok" if self.ok else "WRONG"
        return f"Gradient check ({verdict}, tolerance {self.tolerance:.0e}):\n" + (
            "\n".join(rows)
        )


#: Below this gradient norm, errors are absolute: finite-difference noise
#: would dominate a relative error where the true gradient is 0 (such as
#: the bias of a Dense layer followed by BatchNorm).
_NEGLIGIBLE_NORM = 1e-7


def _relative_error(analytic, numeric):
    """Relative distance between two gradient arrays (absolute when both are ~0)."""
    difference = np.linalg.norm(np.ravel(analytic - numeric))
    size = np.linalg.norm(np.ravel(analytic)) + np.linalg.norm(np.ravel(numeric))
    return float(difference / size) if size > _NEGLIGIBLE_NORM else float(difference)


def _numeric_gradient(function, array, eps):
    """Central differences of scalar ``function()`` w.r.t. ``array`` (in place)."""
    gradient = np.zeros_like(array, dtype=np.float64)
    flat, flat_gradient = array.reshape(-1), gradient.reshape(-1)
    for index in range(flat.size):
        original = flat[index]
        flat[index] = original + eps
        upper = function()
        flat[index] = original - eps
        lower = function()
        flat[index] = original
        flat_gradient[index] = (upper - lower) / (2 * eps)
    return gradient


def _with_members(layers):
    """``layers`` and, depth first, the layers each holds (a container's members)."""
    for layer in layers:
        yield layer
        for value in vars(layer).values():
            if isinstance(value, Layer):
                yield from _with_members([value])
            elif isinstance(value, (list, tuple)):
                yield from _with_members([v for v in value if isinstance(v, Layer)])


class _Rewinder:
    """Puts every random generator held by ``layers`` (or their members) back."""

    def __init__(self, layers):
        self.generators = [
            value
            for layer in _with_members(layers)
            for value in vars(layer).values()
            if isinstance(value, np.random.Generator)
        ]
        self.states = [g.bit_generator.state for g in self.generators]

    def __call__(self):
        for generator, state in zip(self.generators, self.states, strict=True):
            generator.bit_generator.state = state


def _train_forward(layer, x, sample_weight):
    """``layer.forward`` in training mode, with weights if the layer takes them."""
    if layer.uses_sample_weight:
        return layer.forward(x, training=True, sample_weight=sample_weight)
    return layer.forward(x, training=True)


def check_layer_gradients(
    layer,
    n_inputs=4,
    n_samples=5,
    random_state=0,
    eps=1e-6,
    tolerance=1e-6,
    x=None,
    sample_weight=None,
    params=None,
):
    """Compare a layer's ``backward`` with finite differences.

    The layer is built in float64, its parameters are set to random values
    (or to ``params``), and it is fed ``x`` (random if not given) and scored
    with ``sum(r * forward(x))`` for a fixed random ``r``; every parameter
    gradient and the input gradient are checked.

    Parameters
    ----------
    layer : Layer
        An unbuilt layer (it is built here, in place).
    n_inputs : int, default=4
        Input width when ``x`` is not given.
    n_samples : int, default=5
        Rows when ``x`` is not given.
    random_state : int, default=0
        Seed for the inputs, the parameter values, ``r`` and the layer's
        initialisation.
    eps : float, default=1e-6
        Finite-difference step.
    tolerance : float, default=1e-6
        Largest acceptable relative error.
    x : ndarray of shape (n_samples, n_inputs), default=None
        Input to check at. Random values are kept away from 0 so that kinks
        (ReLU) are not straddled.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights passed to layers with ``uses_sample_weight`` (``BatchNorm``).
    params : dict of str to array-like, default=None
        Parameter values to check at, by name. Parameters not given get
        random values of magnitude 0.5 to 1.5 and random sign, not the
        values ``build`` chose: at an initial value of 1 (a scale) or 0 (a
        bias) a gradient that forgets to multiply by the parameter, or adds
        it, looks right.

    Returns
    -------
    report : GradientReport
        Errors for ``"input"`` and each parameter name; call
        ``report.raise_if_wrong()`` in a test.

    Raises
    ------
    KeyError
        If ``params`` names a parameter the layer does not have.

    Examples
    --------
    A scale layer whose ``backward`` forgets the factor ``s`` is caught, because
    the check runs at random parameter values rather than at ``s = 1``:

    >>> import numpy as np
    >>> from sknnlite import Layer
    >>> from sknnlite.testing import check_layer_gradients
    >>> class BrokenScale(Layer):
    ...     def build(self, n_inputs, rng, dtype):
    ...         self.add_param("s", np.ones(n_inputs, dtype=dtype))
    ...         return n_inputs
    ...
    ...     def forward(self, x, training=False):
    ...         if training:
    ...             self._x = x
    ...         return x * self.params["s"]
    ...
    ...     def backward(self, grad_out):
    ...         self.grads["s"][...] = (grad_out * self._x).sum(axis=0)
    ...         return grad_out  # forgot: * self.params["s"]
    >>> report = check_layer_gradients(BrokenScale())
    >>> report.ok, report.worst[0]
    (False, 'input')
    >>> check_layer_gradients(BrokenScale(), params={"s": np.ones(4)}).ok  # at s = 1
    True
    """
    rng = np.random.default_rng(random_state)
    if x is None:
        x = _random_input(rng, n_samples, n_inputs)
    x = np.array(x, dtype=np.float64)
    build_layer(layer, x.shape[1], rng, np.float64)
    _set_param_values(layer, rng, params)
    rewind = _Rewinder([layer])
    projection = rng.normal(size=np.shape(_train_forward(layer, x, sample_weight)))

    def objective():
        rewind()
        return float(np.sum(projection * _train_forward(layer, x, sample_weight)))

    objective()
    grad_input = layer.backward(projection.copy())
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    errors = {}
    for name, param in layer.params.items():
        numeric = _numeric_gradient(objective, param, eps)
        errors[f"params[{name!r}]"] = _relative_error(analytic[name], numeric)
    numeric_input = _numeric_gradient(objective, x, eps)
    errors["input"] = _relative_error(np.asarray(grad_input), numeric_input)
    return GradientReport(errors, tolerance)


def _random_input(rng, n_samples, n_inputs):
    """Random rows with entries of magnitude 0.1 to 1.5, away from kinks at 0."""
    x = rng.uniform(0.1, 1.5, (n_samples, n_inputs))
    x *= rng.choice([-1.0, 1.0], size=x.shape)
    return x


def _set_param_values(layer, rng, params=None):
    """Give every parameter ``params[name]`` or a random non-trivial value."""
    params = {} if params is None else params
    unknown = set(params) - set(layer.params)
    if unknown:
        raise KeyError(
            f"params names {sorted(unknown)}, but {type(layer).__name__} has "
            f"parameters {sorted(layer.params)}."
        )
    for name, value in layer.params.items():
        if name in params:
            value[...] = params[name]
        else:
            value[...] = rng.uniform(0.5, 1.5, value.shape)
            value *= rng.choice([-1.0, 1.0], size=value.shape)


def check_loss_gradient(loss, y, y_pred, sample_weight=None, eps=1e-6, tolerance=1e-6):
    """Compare ``loss.value_and_gradient`` with finite differences of its value.

    Parameters
    ----------
    loss : Loss
        The loss object.
    y, y_pred : ndarray of shape (n_samples, n_outputs)
        Targets and predictions to check at (float64).
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights.
    eps, tolerance : float
        Finite-difference step and largest acceptable relative error.

    Returns
    -------
    report : GradientReport

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Huber
    >>> from sknnlite.testing import check_loss_gradient
    >>> rng = np.random.default_rng(0)
    >>> y, y_pred = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    >>> check_loss_gradient(Huber(delta=0.5), y, y_pred).ok
    True
    """
    y_pred = np.array(y_pred, dtype=np.float64)
    _, analytic = loss.value_and_gradient(y, y_pred.copy(), sample_weight)

    def objective():
        return loss.value_and_gradient(y, y_pred.copy(), sample_weight)[0]

    numeric = _numeric_gradient(objective, y_pred, eps)
    return GradientReport({"y_pred": _relative_error(analytic, numeric)}, tolerance)


def check_network_gradients(
    network, loss, X, y, sample_weight=None, alpha=0.0, eps=1e-6, tolerance=1e-6
):
    """Check the gradient of a whole built network, penalty included.

    Parameters
    ----------
    network : Network
        A network built in float64.
    loss : Loss
        The loss.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,), default=None
    alpha : float, default=0.0
        L2 penalty strength, as in training (divided by the total weight).
    eps, tolerance : float
        Finite-difference step and largest acceptable relative error.

    Returns
    -------
    report : GradientReport
        One entry per parameter, named ``layers[i].params['W']``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, Network, SquaredError, Tanh
    >>> from sknnlite.testing import check_network_gradients
    >>> rng = np.random.default_rng(0)
    >>> network = Network([Dense(4), Tanh(), Dense(1)]).build(3, 1, rng, np.float64)
    >>> X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
    >>> report = check_network_gradients(network, SquaredError(), X, y, alpha=0.1)
    >>> report.ok, sorted(report.errors)[:2]
    (True, ["layers[0].params['W']", "layers[0].params['b']"])
    """
    total = len(y) if sample_weight is None else float(np.sum(sample_weight))
    decay = network.coef[: network.n_decay]
    saved, rewind = network.snapshot(), _Rewinder(network.layers)

    def forward():
        rewind()
        return network.forward(X, training=True, sample_weight=sample_weight)

    def objective():
        value = loss.value_and_gradient(y, forward(), sample_weight)[0]
        return value + 0.5 * alpha / total * float(decay @ decay)

    grad_output = loss.value_and_gradient(y, forward(), sample_weight)[1]
    network.backward(grad_output)
    analytic = network.grad.copy()
    analytic[: network.n_decay] += alpha / total * decay
    numeric = _numeric_gradient(objective, network.coef, eps)
    rewind()
    network.restore(saved)
    errors = {}
    for index, layer in enumerate(network.layers):
        for name, param in layer.params.items():
            where = _offset_in(network.coef, param)
            part = slice(where, where + param.size)
            key = f"layers[{index}].params[{name!r}]"
            errors[key] = _relative_error(analytic[part], numeric[part])
    return GradientReport(errors, tolerance)


def check_estimator_gradients(
    estimator, X, y, sample_weight=None, eps=1e-6, tolerance=1e-6
):
    """Check every parameter gradient of an estimator's network on ``(X, y)``.

    The objective is the one training minimises on a single batch holding
    all of ``X``: the estimator's loss on its encoded targets (scaled as the
    loss's ``target_scaling`` asks) plus its L2 penalty ``alpha``. The estimator is
    never changed: a fitted one is copied and checked at its fitted
    parameters; an unfitted one is cloned, built (not trained) on ``X`` and
    ``y`` and checked at random parameter values of magnitude 0.5 to 1.5
    (as :func:`check_layer_gradients`), not at the initial values, where a
    scale of 1 or a bias of 0 can hide a wrong gradient.

    Parameters
    ----------
    estimator : NNRegressor or another sknnlite estimator
        Fitted (in float64) or unfitted.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data to check at; keep it small (a few rows), since every parameter
        costs two forward passes.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    eps, tolerance : float
        Finite-difference step and largest acceptable relative error.

    Returns
    -------
    report : GradientReport
        One entry per parameter array, named ``layers[i].params['W']``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import BatchNorm, Dense, NNRegressor, Tanh
    >>> from sknnlite.testing import check_estimator_gradients
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    >>> model = NNRegressor([Dense(4), BatchNorm(), Tanh(), Dense()])
    >>> check_estimator_gradients(model, X, y).ok
    True
    """
    fitted = hasattr(estimator, "network_")
    model = copy.deepcopy(estimator) if fitted else clone(estimator)
    X, y, sample_weight = model._validate_training_data(
        X, y, sample_weight, reset=not fitted
    )
    X = X.astype(np.float64)
    sample_weight = None if sample_weight is None else sample_weight.astype(float)
    targets = model._encode_targets(y, sample_weight, reset=not fitted)
    targets = targets.astype(np.float64)
    if not fitted:
        model._initialize(X, targets)
        rng = np.random.default_rng(0)
        for layer in model.network_.layers:
            _set_param_values(layer, rng)
    if model.network_.dtype != np.float64:
        raise ValueError(
            f"The estimator was fitted in {model.network_.dtype}, too coarse for "
            "finite differences. Check it unfitted, or fit it on float64 data."
        )
    return check_network_gradients(
        model.network_,
        model.loss_function_,
        X,
        targets,
        sample_weight,
        alpha=model.alpha,
        eps=eps,
        tolerance=tolerance,
    )


def _offset_in(buffer, view):
    """Position of ``view``'s first element inside the 1-D ``buffer``."""
    start = view.__array_interface__["data"][0] - buffer.__array_interface__["data"][0]
    return start // buffer.itemsize


def check_layer(layer, n_inputs=4, *, n_samples=6, random_state=0, tolerance=1e-6):
    """Check that ``layer`` follows the layer contract; raise if it does not.

    Works on clones: ``layer`` itself is not changed. In order:

    1. ``clone(layer)`` and ``repr(layer)`` work (``__init__`` only stores
       its arguments).
    2. Built in a one-layer :class:`~sknnlite.network.Network` (parameters
       as views into one buffer) and set to random parameter values, a
       training ``forward`` and ``backward`` pass the network's contract
       check: output of shape ``(n_samples, width)`` and dtype float64,
       input gradient of the input's shape, gradients written in place,
       ``x`` not modified.
    3. Gradients match finite differences, alone
       (:func:`check_layer_gradients`, input gradient included) and inside
       the network; with random sample weights too for a layer with
       ``uses_sample_weight``. Inside the network the layer predicts what a
       layer built alone with the same parameter values predicts (which
       catches references to ``params`` or ``grads`` kept from ``build``,
       before the network made them views).
    4. ``forward(x, training=False)`` returns one row per input row, of
       the width ``build`` returned, in ``x``'s dtype, finite for the finite
       input when the training output is finite, and after a training
       step it is pure: it
       writes nothing on the layer (its ``__dict__``, array contents and
       random generators are unchanged), a later call does not overwrite
       the array an earlier one returned, and 8 threads calling it at once
       get bitwise the results of one thread.
    5. A pickle round trip predicts and trains bitwise like the original,
       and a clone of the built layer is unbuilt.

    Parameters
    ----------
    layer : Layer
        The layer to check, unbuilt (as you would put it in ``layers``).
    n_inputs : int, default=4
        Width of the input to build it for.
    n_samples : int, default=6
        Rows of the test batch.
    random_state : int, default=0
        Seed of the inputs, parameter values and the layer's initialisation.
    tolerance : float, default=1e-6
        Largest acceptable relative error of a gradient.

    Raises
    ------
    AssertionError
        Listing every problem found, each saying what was wrong.

    Examples
    --------
    >>> from sknnlite import Dense
    >>> from sknnlite.testing import check_layer
    >>> check_layer(Dense(3))
    """
    problems = _check_clone(layer)
    if not problems:
        problems = _check_built(layer, n_inputs, n_samples, random_state, tolerance)
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        raise AssertionError(
            f"check_layer({layer!r}) found {len(problems)} problem(s):\n{listed}"
        )


#: Rows of the inputs forwarded from several threads at once.
_THREAD_ROWS = (1, 7, 300, 2000)


class _Projection:
    """Loss ``sum(r * y_pred)`` for a fixed ``r``: its gradient is ``r``."""

    def __init__(self, weights):
        self.weights = weights

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        return float(np.sum(self.weights * y_pred)), self.weights.copy()


def _check_clone(layer):
    """Problems with cloning and ``repr`` of the unbuilt layer."""
    try:
        clone(layer)
        repr(layer)
    except Exception as error:  # any failure is the finding to report
        return [
            f"clone or repr failed ({type(error).__name__}: {error}): __init__ "
            "must store each argument unchanged under its own name, and do "
            "nothing else."
        ]
    return []


def _check_built(layer, n_inputs, n_samples, random_state, tolerance):
    """Problems found on a built copy of ``layer``; see :func:`check_layer`."""
    rng = np.random.default_rng(random_state)
    x = _random_input(rng, n_samples, n_inputs)
    weight = rng.uniform(0.5, 2.0, n_samples) if layer.uses_sample_weight else None
    network = Network([clone(layer)])
    try:
        network.build(n_inputs, 3, rng, np.float64)
        built = network.layers[0]
        built.skip_input_grad = False  # the input gradient is checked too
        _set_param_values(built, rng)
        trained_finite = _train_step(network, x, weight, rng)
        # Inference has the same contract: rows, width and dtype, and no NaN
        # or inf for finite rows where training gives finite values.
        network.forward(x, training=False, check=True)
        broken = network.first_non_finite_inference(x)
        if broken is not None and trained_finite:
            raise ValueError(network.non_finite_inference_message(broken))
    except (ValueError, TypeError, NotImplementedError, RuntimeError) as error:
        return [f"{type(error).__name__}: {error}"]
    problems = _gradient_problems(built, network, x, weight, tolerance)
    problems += _binding_problems(built, x)
    problems += _purity_problems(built, x, rng)
    problems += _pickle_problems(built, x, weight)
    if "params" in vars(clone(built)):
        problems.append(
            "clone of a built layer has params: __init__ must only store its "
            "arguments; create parameters in build."
        )
    return problems


def _train_step(network, x, weight, rng):
    """One checked training forward and backward; checks ``x`` is unchanged.

    Returns whether the training output was finite.
    """
    original = x.copy()
    output = network.forward(x, training=True, sample_weight=weight, check=True)
    finite = all_finite(output)
    network.backward(rng.normal(size=output.shape), check=True)
    if not np.array_equal(x, original):
        raise ValueError(
            "forward(x, training=True) modified its input x; write into a new "
            "array or a buffer of the layer instead."
        )
    return finite


def _gradient_problems(built, network, x, weight, tolerance):
    """Gradient errors alone (input included) and inside the network."""
    layer = clone(built)  # with the settings the network resolved (units, init)
    reports = {"alone": check_layer_gradients(clone(layer), x=x, tolerance=tolerance)}
    if weight is not None:
        reports["alone, with sample weights"] = check_layer_gradients(
            clone(layer), x=x, sample_weight=weight, tolerance=tolerance
        )
    shape = (x.shape[0], network.n_outputs)
    loss = _Projection(np.random.default_rng(1).normal(size=shape))
    reports["as views into the network's parameter vector"] = check_network_gradients(
        network, loss, x, np.zeros(shape), sample_weight=weight, tolerance=tolerance
    )
    problems = []
    for where, report in reports.items():
        wrong = {k: v for k, v in report.errors.items() if not v <= tolerance}
        if wrong:
            details = ", ".join(f"{k}: {v:.2e}" for k, v in wrong.items())
            problems.append(
                f"gradients ({where}) differ from finite differences, relative "
                f"error above {tolerance:.0e}: {details}"
            )
    return problems


def _binding_problems(built, x):
    """Whether the layer computes with its ``params`` once they became views."""
    fresh = clone(built)
    build_layer(fresh, x.shape[1], np.random.default_rng(0), np.float64)
    for name, value in built.params.items():
        fresh.params[name][...] = value
    fresh.set_state(built.get_state())
    if _same_bits(fresh.forward(x, training=False), built.forward(x, training=False)):
        return []
    return [
        "inside a network the layer predicts with other values than its params: "
        "after build the network replaces the arrays in params and grads by views "
        "into its parameter vector, so read self.params[name] and write "
        "self.grads[name] at every call, never through references kept from build."
    ]


def _purity_problems(layer, x, rng):
    """What ``forward(x, training=False)`` wrongly did: writes, reuse, races."""
    other, original = _random_input(rng, *x.shape), x.copy()
    before = {name: _fingerprint(value) for name, value in vars(layer).items()}
    first = layer.forward(x, training=False)
    kept = np.array(first, copy=True)
    again = layer.forward(other, training=False)
    after = {name: _fingerprint(value) for name, value in vars(layer).items()}
    problems = []
    if not _same_bits(x, original):
        problems.append("forward(x, training=False) modified its input x.")
    changes = _changes(before, after)
    if changes:
        problems.append(
            f"forward(x, training=False) wrote on the layer: {'; '.join(changes)}. "
            "Inference must write nothing on self: keep caches for training only "
            "(if training: self._x = x) and take buffers from the call (allocate, "
            "or use the workspace argument)."
        )
    if not _same_bits(first, kept):
        problems.append(
            "a second forward(x, training=False) overwrote the array the first "
            "returned: at inference return an array owned by the call."
        )
    if layer.uses_workspace:
        problems += _workspace_problems(layer, other, again)
    problems += _thread_problems(layer, x.shape[1], rng)
    return problems


def _workspace_problems(layer, x, expected):
    """Whether a workspace, and leave to overwrite ``x``, change the output."""
    problems = []
    if not _same_bits(
        layer.forward(x, training=False, workspace=Workspace()), expected
    ):
        problems.append(
            "forward(x, training=False, workspace=...) differs from "
            "forward(x, training=False) without one."
        )
    scratch, workspace = x.copy(), Workspace()
    workspace.input_is_scratch = True
    if not _same_bits(
        layer.forward(scratch, training=False, workspace=workspace), expected
    ):
        problems.append(
            "forward(x, training=False, workspace=...) gives another result when "
            "the workspace lets it overwrite x (input_is_scratch): it reads x after "
            "writing the output over it."
        )
    return problems


def _thread_problems(layer, n_inputs, rng, n_threads=8, repeats=3):
    """Problems when ``n_threads`` threads run ``forward(training=False)`` at once."""
    inputs = [_random_input(rng, rows, n_inputs) for rows in _THREAD_ROWS]
    expected = [np.array(layer.forward(x, training=False)) for x in inputs]
    tasks = list(range(len(inputs))) * (n_threads * repeats)

    def run(index):
        return index, np.array(layer.forward(inputs[index], training=False))

    with ThreadPoolExecutor(n_threads) as pool:
        results = list(pool.map(run, tasks))
    wrong = sum(not _same_bits(out, expected[i]) for i, out in results)
    if wrong:
        return [
            f"forward(x, training=False) called from {n_threads} threads at once "
            f"gave {wrong} of {len(results)} results that differ from one "
            "thread's: some buffer or state is shared between calls."
        ]
    return []


def _pickle_problems(layer, x, weight):
    """Problems with a pickle round trip of the built layer."""
    try:
        restored = pickle.loads(pickle.dumps(layer))
    except Exception as error:  # any failure is the finding to report
        return [f"pickling failed ({type(error).__name__}: {error})."]
    try:
        predicted = restored.forward(x, training=False)
        trained = _train_forward(restored, x, weight)
    except Exception as error:  # any failure is the finding to report
        return [
            f"the unpickled layer failed ({type(error).__name__}: {error}): "
            "attributes named _* are not pickled; keep what the layer needs after "
            "loading in public attributes."
        ]
    problems = []
    if not _same_bits(predicted, layer.forward(x, training=False)):
        problems.append(
            "the unpickled layer predicts differently: keep what inference "
            "needs in public attributes (names not starting with _)."
        )
    if not _same_bits(trained, _train_forward(layer, x, weight)):
        problems.append(
            "the unpickled layer trains differently: keep random generators and "
            "state in public attributes (such as rng_ and running_mean_)."
        )
    return problems


def _same_bits(a, b):
    """Whether two arrays have the same shape, dtype and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _fingerprint(value):
    """What ``value`` is and holds, to tell afterwards whether a call changed it."""
    if isinstance(value, np.ndarray):
        return ("array", id(value), value.copy())
    if isinstance(value, np.random.Generator):
        return ("generator", id(value), value.bit_generator.state)
    if isinstance(value, dict):
        return ("dict", id(value), {k: _fingerprint(v) for k, v in value.items()})
    if isinstance(value, Layer):  # a container's member: look inside it too
        return ("dict", id(value), {k: _fingerprint(v) for k, v in vars(value).items()})
    if isinstance(value, (list, tuple)):
        return ("dict", id(value), dict(enumerate(map(_fingerprint, value))))
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        return ("value", id(value), value)
    return ("object", id(value), None)


def _changes(before, after, name=lambda key: f"self.{key}"):
    """Describe how the fingerprints ``after`` differ from ``before``.

    ``name(key)`` is how a message names the attribute or item ``key``.
    """
    changes = [f"added {name(key)}" for key in after if key not in before]
    changes += [f"removed {name(key)}" for key in before if key not in after]
    for key in before:
        if key not in after:
            continue
        (kind, ident, content), (kind_now, ident_now, content_now) = (
            before[key],
            after[key],
        )
        where = name(key)
        if kind == "value" == kind_now:
            if content != content_now:
                changes.append(f"changed {where} from {content!r} to {content_now!r}")
        elif ident != ident_now:
            changes.append(f"replaced {where} by another object")
        elif kind == "array" and not _same_bits(content, content_now):
            changes.append(f"wrote into the array {where}")
        elif kind == "generator" and content != content_now:
            changes.append(f"drew numbers from the random generator {where}")
        elif kind == "dict":
            changes += _changes(
                content, content_now, lambda item, where=where: f"{where}[{item!r}]"
            )
    return changes
