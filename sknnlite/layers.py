"""The layer contract, the ``Dense`` layer and the buffers of an inference call.

The contract every layer follows is documented once, on :class:`Layer`
(``help(sknnlite.Layer)``); :func:`sknnlite.testing.check_layer` checks a
layer against it.
"""

from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import Interval, StrOptions

from ._config import Configurable
from .initializers import INITIALIZERS, get_initializer

__all__ = ["Layer", "Dense", "Workspace", "build_layer"]

#: What to write when a layer lacks a method, keyed by the method's name.
_MISSING_METHOD = {
    "forward": (
        "forward(self, x, training=False): return the output for x of shape "
        "(n_samples, n_inputs) as an array of shape (n_samples, n_outputs); when "
        "training is true keep on self what backward needs, otherwise write "
        "nothing on self"
    ),
    "backward": (
        "backward(self, grad_out): write each parameter's gradient in place, "
        "self.grads[name][...] = ..., and return the gradient with respect to "
        "the input of the last training forward, of shape (n_samples, n_inputs)"
    ),
}


def _reusable(store, name, shape, dtype, fill=None):
    """A buffer of ``shape`` kept in the dict ``store``, grown only when needed.

    With ``fill`` it is a read-only array of that value.
    """
    shape = tuple(shape)
    buffer = store.get(name)
    if buffer is not None and buffer.shape == shape and buffer.dtype == dtype:
        return buffer  # the common case, checked first: it runs every batch
    if (
        buffer is None
        or buffer.shape[0] < shape[0]
        or buffer.shape[1:] != shape[1:]
        or buffer.dtype != dtype
    ):
        if fill is None:
            buffer = np.empty(shape, dtype=dtype)
        else:
            buffer = np.full(shape, fill, dtype=dtype)
            buffer.flags.writeable = False
        store[name] = buffer
    return buffer[: shape[0]]


class Workspace:
    """Arrays owned by one inference call and reused across its blocks of rows.

    ``Network.predict`` gives one to each layer with ``uses_workspace`` for
    the duration of the call. Nothing in it belongs to a layer: concurrent
    calls never share it, and it is freed when the call returns.

    Attributes
    ----------
    input_is_scratch : bool
        Whether the layer may overwrite its input ``x``: True when ``x`` is
        an array of this call (the output of the layer below) that nothing
        reads afterwards; never for the caller's data.

    Examples
    --------
    A layer with ``uses_workspace = True`` takes its inference buffers from the
    workspace of the call, never from itself:

    >>> import numpy as np
    >>> from sknnlite.layers import Workspace
    >>> workspace = Workspace()
    >>> first = workspace.scratch("_out", (4, 3), np.float64)
    >>> again = workspace.scratch("_out", (2, 3), np.float64)  # a smaller block
    >>> again.shape, np.shares_memory(first, again)
    ((2, 3), True)
    """

    __slots__ = ("_arrays", "_nested", "input_is_scratch")

    def __init__(self):
        self._arrays = {}
        self._nested = {}
        self.input_is_scratch = False  # set by the network before each call

    def nested(self, key):
        """Return the workspace of a layer inside this one, kept for later blocks.

        A container layer gives each of its layers its own workspace, so
        that their buffer names do not collide, for as long as the call lasts.

        Parameters
        ----------
        key : hashable
            Which inner layer, e.g. its index.

        Returns
        -------
        workspace : Workspace
        """
        workspace = self._nested.get(key)
        if workspace is None:
            workspace = self._nested[key] = Workspace()
        return workspace

    def scratch(self, name, shape, dtype):
        """Return a buffer of ``shape`` under ``name``, reused by later blocks."""
        buffer = self._arrays.get(name)
        if buffer is None:  # the first block of a call is its largest
            buffer = self._arrays[name] = np.empty(shape, dtype=dtype)
            return buffer
        return _reusable(self._arrays, name, shape, dtype)

    def zeros(self, name, shape, dtype):
        """Return a buffer of zeros of ``shape`` that the caller only reads."""
        buffer = self._arrays.get(name)
        if buffer is None:
            buffer = self._arrays[name] = np.zeros(shape, dtype=dtype)
            return buffer
        return _reusable(self._arrays, name, shape, dtype, fill=0)


class Layer(Configurable):
    """Base class of all layers, and the contract every layer follows.

    A layer is a small object with three methods, ``build``, ``forward`` and
    ``backward``. The network that owns it calls them in this order:

    1. ``build(n_inputs, rng, dtype)`` once, with the width of its input, a
       :class:`numpy.random.Generator` and the floating dtype of the network. It
       creates its trainable arrays with :meth:`Layer.add_param` and returns its
       output width, a positive ``int``.
    2. ``forward(x, training=False)`` on a batch ``x`` of shape ``(n_samples,
       n_inputs)``. It returns the output, of shape ``(n_samples, n_outputs)``
       and the network's dtype, with ``n_outputs`` the width ``build`` returned.

       * ``training=True``: it may keep on the layer (``self._x = x``) whatever
         ``backward`` will need, and may return a buffer that it reuses on its
         next training call.
       * ``training=False`` (``predict``): a pure function of the parameters. It
         writes nothing on ``self`` (no cache, no buffer, no counter) and returns
         an array that no later call will overwrite: one it allocated, or ``x``
         itself. A fitted model can then serve many threads at once, and a large
         ``predict`` leaves no memory behind.
    3. ``backward(grad_out)`` with the gradient of the loss with respect to the
       output of the last training ``forward``. It writes the gradient of every
       parameter into ``self.grads[name]`` *in place* (``self.grads["W"][...] =
       ...``) and returns the gradient with respect to the input, of the input's
       shape. It never changes ``self.params``: updating them is the
       optimizer's job.

    Every layer exposes its parameters the same way: ``self.params`` and
    ``self.grads`` are dicts with identical keys whose arrays have identical
    shapes. After ``build`` the network moves all parameters of all layers into
    one contiguous buffer and replaces the arrays in ``params`` and ``grads`` by
    views into it, so that an optimizer step is a handful of vectorised
    operations over every parameter at once.

    Conventions that keep this fast and correct:

    * ``forward`` must not modify ``x``; ``backward`` may overwrite ``grad_out``.
    * Attributes whose name starts with ``_`` are scratch (caches, buffers): they
      are dropped when the layer is pickled. Anything that must survive pickling
      (such as running statistics) needs a public name ending in ``_``.
    * ``__init__`` only stores its arguments (like a scikit-learn estimator), so
      the layer can be cloned and its settings tuned with ``set_params``.

    What the network checks, on the first batch of every ``fit`` and
    ``partial_fit`` (``Network.forward(..., check=True)`` and
    ``Network.backward(..., check=True)``): that every layer implements
    ``forward`` and ``backward``, that each output has one row per input row,
    the width ``build`` returned and the network's dtype, that each input
    gradient has the input's shape, that gradients were written in place,
    and that inference (``training=False``) returns the same shapes and no
    NaN or inf for finite rows when training's output is finite (checked
    again on a few training rows at the end of ``fit``). Errors name the
    layer as ``layers[i] (ClassName)``. ``build_layer`` checks
    the width ``build`` returns. :func:`sknnlite.testing.check_layer` checks all
    of this and more (numerical gradients, purity of inference under threads,
    pickling, cloning) on a layer alone: run it on every layer you write.

    Optional parts of the contract, for layers that need them:

    * ``uses_workspace = True``: at inference the layer is called as
      ``forward(x, training=False, workspace=ws)``, with a :class:`Workspace`
      owned by the call (one per layer and call of ``Network.predict``, reused
      across the call's blocks of rows). Arrays taken from it with
      ``ws.scratch(name, shape, dtype)`` are reused from block to block without
      belonging to the layer, and ``ws.input_is_scratch`` says whether the layer
      may write its output over ``x`` (an array of the call that nothing reads
      afterwards). Called directly, without ``workspace``, the layer must work
      too (allocate afresh). The built-in layers use this to predict as fast as
      with buffers kept on the layer.
    * ``uses_sample_weight = True``: while training, the layer is called as
      ``forward(x, training, sample_weight=w)`` with the batch's weights (or
      ``None``), so that a weight of 2 means the same as a repeated row.
    * ``uses_row_keys = True``: while training, the layer is called as
      ``forward(x, training, row_keys=keys)`` with one ``uint64`` per row that
      depends only on the row's input features; randomness drawn from it (as
      ``Dropout`` does) treats a repeated row like a weighted one.
    * Randomness during ``forward`` (``Dropout``) is drawn from a generator kept
      as a public attribute, e.g. ``self.rng_``, derived from the one ``build``
      receives: it is pickled with the layer, so training continues
      reproducibly, and the gradient checkers in :mod:`sknnlite.testing` rewind
      every generator attribute before each forward so the draws are fixed for
      the duration of a check.
    * State that training updates but the optimizer does not (``BatchNorm``'s
      running statistics) is listed in ``state_attributes``; early stopping
      saves and restores it together with the weights (see
      :meth:`Layer.get_state`). Update it so that each element goes from its old
      value to its new one in one write: a ``predict`` running meanwhile in
      another thread then sees old or new values, never a half-updated one.
    * ``accepts_sparse = True``: as the network's first layer, ``forward``
      receives SciPy sparse rows as they are (``Dense`` multiplies them).
      Otherwise the network makes them dense first, a batch or block at a
      time, so ``forward`` only ever sees ndarrays.
    * A layer that computes statistics over the batch sets ``min_batch_rows``
      to the fewest rows a training batch must have (``BatchNorm``: 2, since
      one row has no variance). The training loop then never forms a smaller
      batch (a smaller remainder joins the batch before it) and refuses a
      ``batch_size``, or a ``fit`` or ``partial_fit`` call with fewer rows, with
      a ``ValueError`` naming the layer. The layer itself must still cope with
      fewer rows of positive weight (sample weights can leave one).

    ONNX export (optional hook). :mod:`sknnlite.onnx` translates every built-in
    layer; a layer of your own converts when it has a method
    ``onnx_forward(graph, x)``. It receives an :class:`sknnlite.onnx.OnnxGraph`
    and the name of its input tensor (shape ``(N, n_inputs)``, in the model's
    dtype ``graph.dtype``), adds its predict-time computation with
    ``graph.node(op_type, inputs, **attributes)`` and ``graph.constant(value)``
    (ONNX operators, e.g. ``"MatMul"``, ``"Add"``, ``"Tanh"``, ``"Where"``), and
    returns the name of its output::

        def onnx_forward(self, graph, x):
            return graph.node("Mul", [x, graph.constant(self.params["s"])])

    Training and ``predict`` never call it, so defining it needs no ONNX
    package. Without it, converting a model that contains the layer raises
    ``ValueError`` naming the layer's class, its position ``layers[i]`` and this
    method.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable arrays, created in ``build``.
    grads : dict of str to ndarray
        Gradients of the loss, same keys and shapes as ``params``.
    decayed : list of str
        Names of the parameters the L2 penalty applies to.

    Examples
    --------
    A learnable per-feature scale, checked against the contract:

    >>> import numpy as np
    >>> from sknnlite import Layer
    >>> from sknnlite.testing import check_layer
    >>> class Scale(Layer):
    ...     # Multiplies each feature by a learned factor.
    ...     def build(self, n_inputs, rng, dtype):
    ...         self.add_param("s", np.ones(n_inputs, dtype=dtype))
    ...         return n_inputs
    ...
    ...     def forward(self, x, training=False):
    ...         if training:
    ...             self._x = x  # backward needs it; predict keeps nothing
    ...         return x * self.params["s"]
    ...
    ...     def backward(self, grad_out):
    ...         self.grads["s"][...] = (grad_out * self._x).sum(axis=0)
    ...         return grad_out * self.params["s"]
    >>> # Returns quietly, or raises AssertionError listing the problems (skipped
    >>> # here: a class defined inside a doctest cannot be pickled by name).
    >>> check_layer(Scale(), n_inputs=3)  # doctest: +SKIP
    """

    #: Initialiser a preceding ``Dense(init="auto")`` should use.
    preferred_init = "glorot_uniform"

    #: Set by the network on the first layer: its input gradient is unused,
    #: so ``backward`` may skip computing it and return ``None``.
    skip_input_grad = False

    #: Names of non-trainable arrays that ``forward(training=True)`` updates.
    state_attributes = ()

    #: Whether ``forward(x, training=False)`` takes ``workspace``, the
    #: :class:`Workspace` of the inference call.
    uses_workspace = False

    #: Whether ``forward`` takes the batch's ``sample_weight``.
    uses_sample_weight = False

    #: Fewest rows a training batch must have (more than 1 for layers that
    #: compute statistics over the batch).
    min_batch_rows = 1

    #: Whether ``forward`` takes ``row_keys``: while training, one ``uint64``
    #: per row derived from the network's input row (equal rows, equal keys).
    uses_row_keys = False

    #: Whether ``forward`` takes a SciPy sparse matrix as the network's first
    #: layer. Otherwise the network gives it dense rows (a block at a time),
    #: so a layer written for ndarrays never sees a sparse matrix.
    accepts_sparse = False

    def build(self, n_inputs, rng, dtype):
        """Create parameters for inputs of width ``n_inputs``.

        Parameters
        ----------
        n_inputs : int
            Width of the input.
        rng : numpy.random.Generator
            Source of all randomness of this layer.
        dtype : numpy.dtype
            Floating dtype of parameters and activations.

        Returns
        -------
        n_outputs : int
            Width of the output.
        """
        return n_inputs

    def forward(self, x, training=False):
        """Return the output for ``x`` of shape ``(n_samples, n_inputs)``.

        Raises
        ------
        NotImplementedError
            Always: subclasses write it (the message says how).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement {_MISSING_METHOD['forward']}."
        )

    def backward(self, grad_out):
        """Fill ``self.grads`` and return the gradient for the input.

        Raises
        ------
        NotImplementedError
            Always: subclasses write it (the message says how).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement {_MISSING_METHOD['backward']}."
        )

    def add_param(self, name, value, decay=False):
        """Register a trainable array; call this from ``build``.

        Parameters
        ----------
        name : str
            Key in ``params`` and ``grads``.
        value : ndarray
            Initial value.
        decay : bool, default=False
            Whether the L2 penalty ``alpha`` applies to it (weights: yes,
            biases and scales: no).
        """
        if "params" not in self.__dict__:
            self.params, self.grads, self.decayed = {}, {}, []
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        if decay:
            self.decayed.append(name)

    def get_state(self):
        """Return copies of the arrays named in ``state_attributes``.

        Returns
        -------
        state : dict of str to ndarray
            Empty for layers without such state.
        """
        return {name: np.copy(getattr(self, name)) for name in self.state_attributes}

    def set_state(self, state):
        """Write arrays returned by :meth:`get_state` back, in place."""
        for name, value in state.items():
            getattr(self, name)[...] = value

    def scratch(self, name, shape, dtype):
        """Return a buffer of ``shape`` kept on the layer; for training only."""
        return _reusable(self.__dict__, name, shape, dtype)

    def constant(self, name, shape, dtype, value):
        """Return a read-only buffer kept on the layer; for training only."""
        return _reusable(self.__dict__, name, shape, dtype, fill=value)

    def zeros(self, name, shape, dtype):
        """Return a read-only buffer of zeros kept on the layer; for training only."""
        return self.constant(name, shape, dtype, 0)

    def _training_pass(self, n_rows, n_inputs, dtype):
        """``(forward, backward)`` for dense batches of ``n_rows`` rows, or None.

        A built-in layer returns its own training ``forward(x)`` and
        ``backward(grad_out)`` with its buffers and parameter views looked up
        once, so that the training loop's steady state makes no per-call
        lookups or checks. They must compute exactly what ``forward(x,
        training=True)`` and ``backward`` compute. None (the default, and
        every layer written against the contract) means: call those.
        """
        return None

    def _buffers(self, training, workspace):
        """Where ``forward`` takes its arrays.

        The layer itself while training (``backward`` reads them); at
        inference the call's workspace, or a fresh one when called directly.
        """
        if training:
            return self
        return Workspace() if workspace is None else workspace

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in list(state):
            if key.startswith("_"):
                del state[key]
        return state


def build_layer(layer, n_inputs, rng, dtype, name=None):
    """Give ``layer`` empty ``params``/``grads`` and build it; returns its width.

    Parameters
    ----------
    layer : Layer
        The layer, built in place.
    n_inputs : int
        Width of its input.
    rng : numpy.random.Generator
        Passed to ``build``.
    dtype : numpy.dtype
        Passed to ``build``.
    name : str, default=None
        How to name the layer in an error, e.g. ``"layers[2] (Scale)"``;
        the class name by default.

    Returns
    -------
    n_outputs : int

    Raises
    ------
    TypeError
        If ``build`` returns something other than a positive int.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense
    >>> from sknnlite.layers import build_layer
    >>> build_layer(Dense(5), 3, np.random.default_rng(0), np.float32)
    5
    """
    layer.params, layer.grads, layer.decayed = {}, {}, []
    width = layer.build(n_inputs, rng, np.dtype(dtype))
    if isinstance(width, Integral) and not isinstance(width, bool) and width > 0:
        return int(width)
    raise TypeError(
        f"{name or type(layer).__name__}.build returned {width!r}; build must "
        "return the output width, a positive int (return n_inputs if the layer "
        "keeps the width of its input)."
    )


#: Largest ``W`` (in elements) whose input gradient goes through a contiguous
#: copy of ``W.T``: 13 us against 21 us for the transposed view (64x64,
#: batch 200, float64) where it was measured, with OpenBLAS's SkylakeX
#: kernel. Above that the copy costs more than it saves (with the Haswell
#: kernel the view was faster at every shape from 64x256 to 1024x1024).
_COPY_TRANSPOSE_MAX = 64 * 64


class Dense(Layer):
    """Fully connected layer: ``output = x @ W + b``.

    Parameters
    ----------
    units : int or None, default=None
        Output width. ``None`` is allowed on the last ``Dense`` of a network
        only, where it means "one unit per target" (or per class).
    init : str, default="auto"
        Weight initialiser. ``"auto"`` takes the ``preferred_init`` of the
        layer that follows: ``"glorot_uniform"`` before ``ReLU``,
        ``LeakyReLU``, ``Tanh``, ``Sigmoid`` and the output, ``"he_uniform"``
        before ``ELU``, ``GELU``, ``SiLU`` and ``Mish``, ``"lecun_normal"``
        before ``SELU``. Or one of ``"he_uniform"``, ``"he_normal"``,
        ``"glorot_uniform"``, ``"glorot_normal"``, ``"lecun_normal"``.
    bias_init : str, default="auto"
        Bias initialiser. ``"auto"`` draws ``b`` from the same distribution
        as ``W`` (one more row of ``W``, as MLPRegressor does), ``"zeros"``
        starts it at 0; or any name accepted by ``init``.
    use_bias : bool, default=True
        Whether to add a trainable bias ``b``.

    Notes
    -----
    With ``x`` of shape ``(n, d)``, ``W`` of shape ``(d, units)`` and the
    incoming gradient ``G`` of shape ``(n, units)``: ``dW = x.T @ G``,
    ``db = G.sum(axis=0)`` and the input gradient is ``G @ W.T``. Only ``W``
    is penalised by ``alpha``.

    The defaults are scikit-learn's MLP's (Glorot uniform on ``[-r, r]``,
    ``r = sqrt(6 / (fan_in + fan_out))``, for weights *and* biases before a
    ReLU), chosen by measurement with ``benchmarks/bench_accuracy.py``:
    holdout R² (9 regression sets) or accuracy (8 classification sets) of
    a 64-64 ReLU network after 10, 30 and 200 epochs and of the default
    network, mean over 5 seeds (20 for sets under 600 rows). Difference
    from MLP (on a standardised target for regression), mean and worst
    over the 36 and 32 rows:

    ================================  ===============  ===============
    hidden ``init``, ``bias_init``    regression       classification
    ================================  ===============  ===============
    He uniform, zeros (sknnlite 0.1)  -0.053 (-0.190)  -0.016 (-0.084)
    Glorot uniform, zeros             -0.002 (-0.045)  -0.003 (-0.068)
    He uniform, like the weights      -0.036 (-0.196)  -0.001 (-0.062)
    Glorot uniform, like the weights  +0.001 (-0.025)  -0.002 (-0.045)
    ================================  ===============  ===============

    He starts the network with larger outputs, which training must first
    undo: it learns slower at these budgets, except on two-feature inputs
    (a checkerboard, ``sin(x1) * cos(x2)``) where it is better. Zero
    biases put every ReLU's kink through the origin of the input space,
    which hurts on low-dimensional inputs. Before the smooth ``ELU``,
    ``SiLU`` and ``Mish``, nearly linear around 0, Glorot's smaller weights
    were worse than He at 30 epochs (mean R² 0.02-0.06 lower on 5 regression
    sets); before ``GELU`` it was mixed (0.006 higher on average, 0.06 lower
    on ``sin(x1) * cos(x2)``). He stays before those four.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, NNRegressor, ReLU
    >>> layer = Dense(3)
    >>> layer.build(2, np.random.default_rng(0), np.dtype("float64"))
    3
    >>> layer.params["W"].shape, layer.params["b"].shape
    ((2, 3), (3,))
    >>> layer.forward(np.ones((4, 2))).shape
    (4, 3)

    The last ``Dense()`` of a network takes one unit per target:

    >>> from sklearn.datasets import make_friedman1
    >>> X, y = make_friedman1(n_samples=100, random_state=0)
    >>> model = NNRegressor([Dense(16), ReLU(), Dense()], learning_rate=0.01,
    ...                     tol=1e-3, random_state=0).fit(X, y)
    >>> model.layers_
    [Dense(16, init='glorot_uniform'), ReLU(), Dense(1, init='glorot_uniform')]
    """

    _parameter_constraints = {
        "units": [Interval(Integral, 1, None, closed="left"), None],
        "init": [StrOptions(set(INITIALIZERS) | {"auto"})],
        "bias_init": [StrOptions(set(INITIALIZERS) | {"auto"})],
        "use_bias": ["boolean"],
    }

    uses_workspace = True
    accepts_sparse = True

    def __init__(self, units=None, *, init="auto", bias_init="auto", use_bias=True):
        self.units = units
        self.init = init
        self.bias_init = bias_init
        self.use_bias = use_bias

    def build(self, n_inputs, rng, dtype):
        if self.units is None:
            raise ValueError(
                "Dense(units=None) is only allowed as the last Dense layer, "
                "where it takes the number of targets; give the width, e.g. "
                "Dense(64)."
            )
        init_name = "glorot_uniform" if self.init == "auto" else self.init
        initializer = get_initializer(init_name, argument="Dense.init")
        shape = (n_inputs, self.units)
        self.add_param(
            "W", initializer(shape, n_inputs, self.units, rng, dtype), decay=True
        )
        if self.use_bias:
            # "auto" draws b like one more row of W, as MLPRegressor does.
            bias_name = init_name if self.bias_init == "auto" else self.bias_init
            bias_init = get_initializer(bias_name, argument="Dense.bias_init")
            bias = bias_init((self.units,), n_inputs, self.units, rng, dtype)
            self.add_param("b", bias)
        return self.units

    def forward(self, x, training=False, workspace=None):
        if training:
            self._x = x
        weights = self.params["W"]
        if not isinstance(x, np.ndarray) and sparse.issparse(x):
            out = np.asarray(x @ weights)
        else:
            buffers = self._buffers(training, workspace)
            out = buffers.scratch("_out", (x.shape[0], weights.shape[1]), weights.dtype)
            np.matmul(x, weights, out=out)
        if self.use_bias:
            out += self.params["b"]
        return out

    def _training_pass(self, n_rows, n_inputs, dtype):
        if type(self) is not Dense:  # a subclass may change what these compute
            return None
        weights, bias = self.params["W"], self.params.get("b")
        grad_weights, grad_bias = self.grads["W"], self.grads.get("b")
        out = self.scratch("_out", (n_rows, weights.shape[1]), dtype)
        ones = self.constant("_ones", (n_rows,), dtype, 1)
        input_grad = None if self.skip_input_grad else self._input_grad_of(n_rows)

        def forward(x):
            self._x = x
            np.matmul(x, weights, out=out)
            if bias is not None:
                np.add(out, bias, out=out)
            return out

        def backward(grad_out):
            np.matmul(self._x.T, grad_out, out=grad_weights)
            if bias is not None:
                np.matmul(ones, grad_out, out=grad_bias)
            return None if input_grad is None else input_grad(grad_out)

        return forward, backward

    def _input_grad_of(self, n_rows):
        """:meth:`_input_grad` for ``n_rows`` rows, its buffers taken once."""
        weights = self.params["W"]
        grad_in = self.scratch("_grad_in", (n_rows, weights.shape[0]), weights.dtype)
        weights_t = weights.T
        if weights.shape[1] == 1:
            return lambda grad_out: np.multiply(grad_out, weights_t, out=grad_in)
        if weights.size > _COPY_TRANSPOSE_MAX:
            return lambda grad_out: np.matmul(grad_out, weights_t, out=grad_in)
        copy = self.scratch("_weights_t", weights_t.shape, weights.dtype)

        def copied(grad_out):
            np.copyto(copy, weights_t)
            return np.matmul(grad_out, copy, out=grad_in)

        return copied

    def backward(self, grad_out):
        x = self._x
        if not isinstance(x, np.ndarray) and sparse.issparse(x):
            self.grads["W"][...] = x.T @ grad_out
        else:
            np.matmul(x.T, grad_out, out=self.grads["W"])
        if self.use_bias:
            # A matrix-vector product with ones sums the rows faster than sum().
            ones = self.constant("_ones", grad_out.shape[:1], grad_out.dtype, 1)
            np.matmul(ones, grad_out, out=self.grads["b"])
        if self.skip_input_grad:
            return None
        return self._input_grad(grad_out)

    def _input_grad(self, grad_out):
        """``grad_out @ W.T``, computed the fastest way for the width."""
        weights = self.params["W"]
        grad_in = self.scratch(
            "_grad_in", (grad_out.shape[0], weights.shape[0]), weights.dtype
        )
        if weights.shape[1] == 1:
            # An outer product: broadcasting beats a rank-1 matrix product.
            return np.multiply(grad_out, weights.T, out=grad_in)
        if weights.size > _COPY_TRANSPOSE_MAX:
            # BLAS reads the transposed view in place; a copy would cost more
            # than the product (5.5 ms vs 26 ms for 1024x1024, batch 32).
            return np.matmul(grad_out, weights.T, out=grad_in)
        weights_t = self.scratch("_weights_t", weights.T.shape, weights.dtype)
        np.copyto(weights_t, weights.T)
        return np.matmul(grad_out, weights_t, out=grad_in)
