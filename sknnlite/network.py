"""The network engine: a list of layers with one flat parameter buffer.

:class:`Network` builds its layers, moves their parameters into a single
contiguous vector (``coef``, gradients in ``grad``) and runs data forward and
gradients backward. It knows nothing about scikit-learn.

Training and inference take different paths. A training ``forward`` lets
layers cache on themselves what ``backward`` needs. Inference (``predict``
and ``forward(x, training=False)``) writes nothing on the network or its
layers: every call takes its own buffers (one :class:`~sknnlite.layers.Workspace`
per layer that asks for one), reuses them from one block of rows to the next
and drops them on return. So one fitted network can serve many threads at
once, also while another thread trains it (predictions then see each
parameter before or after an update step), and a large ``predict`` keeps no
memory.

The layer contract (see :class:`sknnlite.layers.Layer`) is checked here with
``check=True``, which the training loop passes on the first batch of every
fit: shapes and dtype of every output and input gradient, and missing
methods. Errors name the layer as ``layers[i] (ClassName)``.
"""

import copy
import functools
import threading
from contextlib import contextmanager

import numpy as np
from scipy import sparse
from sklearn.base import clone

from . import _hashing
from .activations import ACTIVATIONS, get_activation
from .layers import _MISSING_METHOD, Layer, Workspace, build_layer
from .optimizers import cache_blocks

__all__ = [
    "Network",
    "TrainingPass",
    "check_layers",
    "infer_forward",
    "resolve_layers",
    "set_layer_params",
    "train_backward",
    "train_forward",
]

#: Bytes of one layer's output per block of rows in ``predict``. A call's
#: buffers are allocated afresh, so they must stay small: large ones come as
#: fresh pages from the system, whose first touch can cost more than the
#: arithmetic, while small ones are recycled by the allocator and stay in
#: cache. On the benchmark network (64 wide) 256 KiB was the fastest of
#: 64 KiB to 1 MiB, in float32 and float64.
BLOCK_BYTES = 256 * 1024

#: Fewest rows per block, so that a very wide layer still multiplies a
#: matrix rather than one row at a time.
MIN_BLOCK_ROWS = 64


class Network:
    """A built stack of layers whose parameters share one buffer.

    Parameters
    ----------
    layers : list of Layer or str
        Layers to own; they are built and modified in place, so pass copies.
        An activation name (``"relu"``) stands for that activation; ``build``
        replaces it by the layer.

    Attributes
    ----------
    coef : ndarray of shape (n_params,)
        Every trainable parameter. Parameters that the L2 penalty applies to
        come first, in ``coef[:n_decay]``.
    grad : ndarray of shape (n_params,)
        Gradient of the loss with respect to ``coef``.
    n_decay : int
        Number of penalised parameters at the start of ``coef``.
    n_outputs : int
        Width of the last layer's output.
    widths : list of int
        Output width of each layer.

    Examples
    --------
    The engine alone, without an estimator:

    >>> import numpy as np
    >>> from sknnlite import Dense, Network, ReLU
    >>> network = Network([Dense(8), ReLU(), Dense()])
    >>> network = network.build(3, 2, np.random.default_rng(0), np.float64)
    >>> network.widths, network.coef.shape
    ([8, 8, 2], (50,))
    >>> network.predict(np.ones((5, 3))).shape
    (5, 2)
    """

    def __init__(self, layers):
        self.layers = layers

    def build(self, n_inputs, n_targets, rng, dtype):
        """Resolve automatic settings, build every layer and pack parameters.

        Parameters
        ----------
        n_inputs : int
            Number of input features.
        n_targets : int
            Width the last ``Dense(units=None)`` takes.
        rng : numpy.random.Generator
            Random source for every layer.
        dtype : numpy.dtype
            Floating dtype of parameters.

        Returns
        -------
        self : Network
        """
        self.n_inputs = n_inputs
        self._dtype_name = np.dtype(dtype).name
        self.layers = resolve_layers(self.layers)
        _resolve_auto_settings(self.layers, n_targets)
        width = n_inputs
        self.widths = []
        for index, layer in enumerate(self.layers):
            name = _layer_name(index, layer)
            width = build_layer(layer, width, rng, self.dtype, name=name)
            self.widths.append(width)
        self.n_outputs = width
        wants_keys = any(layer.uses_row_keys for layer in self.layers)
        self.row_projection_ = rng.normal(size=n_inputs) if wants_keys else None
        self.layers[0].skip_input_grad = True
        self._pack(copy_values=True)
        self._lock = ReadWriteLock()
        return self

    def training(self):
        """Context manager held by a training call: predictions wait for it.

        ``predict`` holds the read side, so a prediction sees the network
        before or after a whole ``fit`` or ``partial_fit`` call, never
        half-updated weights; predictions still run concurrently with each
        other. The training thread itself may predict (validation).
        """
        return self._lock.writing()

    def _param_slots(self):
        """(layer, name) pairs in buffer order: penalised parameters first."""
        slots = [
            (layer, name)
            for decayed in (True, False)
            for layer in self.layers
            for name in layer.params
            if (name in layer.decayed) == decayed
        ]
        return slots

    def _pack(self, copy_values):
        """Move layer parameters into ``coef``/``grad`` and bind views."""
        slots = self._param_slots()
        sizes = [layer.params[name].size for layer, name in slots]
        total = int(sum(sizes))
        self.n_decay = int(
            sum(
                size
                for (layer, name), size in zip(slots, sizes, strict=True)
                if name in layer.decayed
            )
        )
        if copy_values or getattr(self, "coef", None) is None:
            self.coef = np.empty(total, dtype=self.dtype)
        self.grad = np.zeros(total, dtype=self.dtype)
        offset = 0
        for (layer, name), size in zip(slots, sizes, strict=True):
            shape = layer.params[name].shape
            view = self.coef[offset : offset + size].reshape(shape)
            if copy_values:
                view[...] = layer.params[name]
            layer.params[name] = view
            layer.grads[name] = self.grad[offset : offset + size].reshape(shape)
            offset += size

    def forward(self, x, training=False, sample_weight=None, check=False):
        """Run ``x`` through every layer and return the output.

        Parameters
        ----------
        x : ndarray or sparse matrix of shape (n_samples, n_inputs)
            Input rows.
        training : bool, default=False
            Whether this is a training step: layers keep what
            :meth:`backward` needs. With False nothing is written on the
            network or its layers.
        sample_weight : ndarray of shape (n_samples,), default=None
            While training, passed to the layers with ``uses_sample_weight``
            (such as ``BatchNorm``); layers with ``uses_row_keys`` (such as
            ``Dropout``) get one key per input row.
        check : bool, default=False
            Check the layer contract on the way, for the first batch of a
            fit: every layer implements ``forward`` and ``backward`` and
            returns one row per input row, of the width its ``build``
            returned, in the network's dtype.

        Returns
        -------
        output : ndarray of shape (n_samples, n_outputs)
            While training, possibly a buffer the last layer reuses.

        Raises
        ------
        ValueError, TypeError or NotImplementedError
            With ``check=True``, naming ``layers[i]``, its class and the
            expected and actual shape (or dtype, or the missing method).
        """
        x = self._dense_if_needed(x)
        if not training:
            if check:
                return self._infer_checked(x)
            return self._infer_or_explain(x, self._workspaces())[0]
        if check:
            return self._forward_checked(x, sample_weight)
        return train_forward(self.layers, x, sample_weight, self._row_keys(x))

    def _row_keys(self, x):
        """One key per input row for ``uses_row_keys`` layers, or None."""
        if self.row_projection_ is None:
            return None
        return _hashing.row_keys(x, self.row_projection_)

    def _forward_checked(self, x, sample_weight):
        """A training ``forward`` that checks the contract after every layer."""
        for index, layer in enumerate(self.layers):
            for method in ("forward", "backward"):
                _require_method(index, layer, method)
        row_keys = self._row_keys(x)
        for index, layer in enumerate(self.layers):
            extra = _batch_extras(layer, sample_weight, row_keys)
            output = layer.forward(x, training=True, **extra)
            self._check_output(index, output, x.shape[0])
            x = output
        return x

    def first_non_finite_inference(self, x):
        """Index of the first layer whose inference turns finite ``x`` non-finite.

        Runs a checked inference pass (rows, width and dtype of every layer
        are checked, naming the layer) and returns the index of the first
        layer whose ``forward(training=False)`` returns NaN or inf for a
        finite input, or None. Writes nothing on the network.

        Parameters
        ----------
        x : ndarray or sparse matrix of shape (n_samples, n_inputs)
            Rows in the network's dtype.

        Returns
        -------
        index : int or None
        """

        def infer(index, layer, x):
            _require_method(index, layer, "forward")
            workspace = {"workspace": Workspace()} if layer.uses_workspace else {}
            output = layer.forward(x, training=False, **workspace)
            self._check_output(index, output, x.shape[0])
            return output

        return self._first_non_finite(x, infer)

    def first_non_finite_training(self, x):
        """:meth:`first_non_finite_inference` for a training ``forward``.

        Runs the layers in training mode (which may update their state and
        draw from their generators: only for diagnosing a call that fails
        and is undone). Returns the index of the first layer whose output
        is NaN or inf for a finite input, or None.
        """
        row_keys = self._row_keys(self._dense_if_needed(x))

        def train(index, layer, x):
            extras = _batch_extras(layer, None, row_keys)
            return layer.forward(x, training=True, **extras)

        return self._first_non_finite(x, train)

    def _first_non_finite(self, x, forward):
        """Index of the first layer that `forward(index, layer, x)` makes non-finite."""
        x = self._dense_if_needed(x)
        for index, layer in enumerate(self.layers):
            output = forward(index, layer, x)
            if not all_finite(output):
                return index if all_finite(x) else None
            x = output
        return None

    def non_finite_inference_message(self, index):
        """The error for a layer whose inference makes finite rows non-finite."""
        return (
            f"{_layer_name(index, self.layers[index])}.forward(x, training=False) "
            "returned NaN or inf for finite input rows, while training gives "
            "finite values: every prediction would be NaN or inf. Fix the "
            "layer's inference branch (sknnlite.testing.check_layer checks it)."
        )

    def _infer(self, x, workspaces):
        """Inference pass; returns ``(output, owned)``.

        ``owned`` is True when the output is an array of this call (from a
        layer with ``uses_workspace``) rather than the input or an array a
        user's layer may keep.
        """
        return infer_forward(self.layers, x, workspaces, owned=False)

    def _infer_or_explain(self, x, workspaces):
        """:meth:`_infer`; if it fails, name the layer that broke the contract.

        A layer that returns the wrong width at inference makes the next
        layer fail inside NumPy (a ``matmul`` mismatch naming no layer); the
        checked pass finds it. Free when nothing fails.
        """
        try:
            return self._infer(x, workspaces)
        except (ValueError, TypeError):
            self._infer_checked(x)  # raises, naming the layer, if one broke it
            raise

    def _infer_checked(self, x):
        """Inference pass that checks every layer's output; returns the output."""
        for index, layer in enumerate(self.layers):
            _require_method(index, layer, "forward")
            if layer.uses_workspace:
                output = layer.forward(x, training=False, workspace=Workspace())
            else:
                output = layer.forward(x, training=False)
            self._check_output(index, output, x.shape[0])
            x = output
        return x

    def _workspaces(self):
        """Fresh buffers for one inference call: a Workspace per layer asking."""
        return [Workspace() if layer.uses_workspace else None for layer in self.layers]

    def _check_output(self, index, output, n_rows):
        """Raise, naming the layer, if ``output`` breaks the contract."""
        layer = self.layers[index]
        expected = (n_rows, self.widths[index])
        shape = getattr(output, "shape", None)
        if shape is None:
            raise TypeError(
                f"{_layer_name(index, layer)}.forward returned "
                f"{type(output).__name__}; expected an array of shape {expected}."
            )
        if tuple(shape) != expected:
            raise ValueError(
                f"{_layer_name(index, layer)}.forward returned shape {tuple(shape)} "
                f"for an input of {n_rows} rows; expected {expected}: one row per "
                f"input row, of the width its build returned ({expected[1]})."
            )
        if output.dtype != self.dtype:
            raise TypeError(
                f"{_layer_name(index, layer)}.forward returned {output.dtype} "
                f"values; expected {self.dtype}, the dtype of the network (the "
                "dtype build received): compute in x.dtype."
            )

    def backward(self, grad_out, check=False):
        """Back-propagate ``grad_out``; fills ``grad`` for every parameter.

        Parameters
        ----------
        grad_out : ndarray of shape (n_samples, n_outputs)
            Gradient of the loss with respect to the last training output;
            may be overwritten.
        check : bool, default=False
            Check, for the first batch of a fit, that every input gradient
            has the shape of the layer's input and that every layer wrote
            its gradients in place (:meth:`check_grads_bound`).

        Raises
        ------
        ValueError, TypeError or RuntimeError
            With ``check=True``, naming ``layers[i]``, its class and the
            expected and actual shape.
        """
        if check:
            self._backward_checked(grad_out)
            return
        train_backward(self.layers, grad_out)

    def _backward_checked(self, grad_out):
        """``backward`` checking every input gradient's shape, then the binding."""
        n_rows = grad_out.shape[0]
        for index in reversed(range(len(self.layers))):
            layer = self.layers[index]
            _require_method(index, layer, "backward")
            grad_out = layer.backward(grad_out)
            if index > 0 or not layer.skip_input_grad:
                self._check_input_grad(index, grad_out, n_rows)
        self.check_grads_bound()

    def _check_input_grad(self, index, grad_in, n_rows):
        """Raise, naming the layer, if ``grad_in`` has not its input's shape."""
        width = self.widths[index - 1] if index > 0 else self.n_inputs
        expected = (n_rows, width)
        shape = getattr(grad_in, "shape", None)
        if shape is None or tuple(shape) != expected:
            got = type(grad_in).__name__ if shape is None else f"shape {tuple(shape)}"
            raise ValueError(
                f"{_layer_name(index, self.layers[index])}.backward returned {got}; "
                f"expected the gradient with respect to its input, of shape "
                f"{expected}."
            )

    def check_grads_bound(self):
        """Raise if a layer replaced its gradient arrays instead of filling them."""
        for index, layer in enumerate(self.layers):
            for name, array in layer.grads.items():
                if not np.shares_memory(array, self.grad):
                    raise RuntimeError(
                        f"{_layer_name(index, layer)} replaced "
                        f"grads[{name!r}] instead of writing into it. Write "
                        f"gradients in place: self.grads[{name!r}][...] = value."
                    )

    def predict(self, x, chunk_rows=2048):
        """Forward ``x`` in blocks of rows; writes nothing on the layers.

        Every call takes its own buffers, reuses them from block to block and
        drops them on return: concurrent calls are safe, and the extra memory
        is one block of activations per layer, whatever the number of rows.

        Parameters
        ----------
        x : ndarray or sparse matrix of shape (n_samples, n_inputs)
            Input rows, in the network's dtype.
        chunk_rows : int, default=2048
            Most rows forwarded at once. Blocks are smaller when a layer's
            output row is wide: about ``BLOCK_BYTES`` (256 KiB) per layer
            output, and at least ``MIN_BLOCK_ROWS`` (64) rows.

        Returns
        -------
        output : ndarray of shape (n_samples, n_outputs)
            A new array, in the network's dtype.

        Raises
        ------
        ValueError or TypeError
            If a layer's output has the wrong shape, naming ``layers[i]``.
        """
        lock = self._lock
        counted = lock.acquire_read()
        try:
            return self._predict(x, chunk_rows)
        finally:
            if counted:
                lock.release_read()

    def _dense_if_needed(self, x):
        """Dense rows for a first layer that does not take sparse input."""
        if sparse.issparse(x) and not getattr(self.layers[0], "accepts_sparse", False):
            return x.toarray()
        return x

    def _predict(self, x, chunk_rows):
        """:meth:`predict` without the lock."""
        n_samples = x.shape[0]
        workspaces = self._workspaces()
        # A few rows (a request to a server) fit in one block of any network.
        few = n_samples <= min(chunk_rows, MIN_BLOCK_ROWS)
        block = n_samples if few else min(chunk_rows, self._block_rows())
        if n_samples <= block:
            return self._predict_block(x, workspaces, copy=True)
        out = np.empty((n_samples, self.n_outputs), dtype=self.dtype)
        for start in range(0, n_samples, block):
            stop = min(start + block, n_samples)
            out[start:stop] = self._predict_block(x[start:stop], workspaces, copy=False)
        return out

    def _block_rows(self):
        """Rows per block so that one layer's output takes about BLOCK_BYTES."""
        row_bytes = max(self.widths) * self.dtype.itemsize
        return max(MIN_BLOCK_ROWS, BLOCK_BYTES // row_bytes)

    def _predict_block(self, x, workspaces, copy):
        """Output for one block; with ``copy``, an array owned by the caller."""
        x = self._dense_if_needed(x)
        output, owned = self._infer_or_explain(x, workspaces)
        if getattr(output, "shape", None) != (x.shape[0], self.n_outputs):
            self._infer_checked(x)  # raises, naming the layer
            raise ValueError(
                f"The network returned shape {getattr(output, 'shape', None)} for "
                f"{x.shape[0]} rows; expected {(x.shape[0], self.n_outputs)}."
            )
        if copy and not owned:
            return np.array(output, dtype=self.dtype)
        return output

    def snapshot(self, into=None):
        """Copy of every parameter and every layer's state, for :meth:`restore`.

        Parameters
        ----------
        into : tuple or None, default=None
            An earlier snapshot of this network whose parameter buffer is
            reused (overwritten), to avoid allocating one per call.

        Returns
        -------
        snapshot : tuple of (ndarray of shape (n_params,), list of dict)
        """
        if into is None:
            coef = self.coef.copy()
        else:
            coef = into[0]
            np.copyto(coef, self.coef)
        return coef, [layer.get_state() for layer in self.layers]

    def restore(self, snapshot):
        """Put back parameters and layer state saved by :meth:`snapshot`."""
        coef, states = snapshot
        self.coef[...] = coef
        for layer, state in zip(self.layers, states, strict=True):
            layer.set_state(state)

    def training_pass(self, n_rows, sparse_input=False):
        """Training ``forward`` and ``backward`` for batches of ``n_rows`` rows.

        Made once per epoch by the training loop: each layer's methods (or
        the built-in layers' own passes, with their buffers and parameter
        views looked up once) are resolved here, so that a step makes no
        lookups, checks or allocations. The results are those of
        :meth:`forward` and :meth:`backward` bit for bit. The contract is
        not checked (the loop checks it with those on its first batch).

        Parameters
        ----------
        n_rows : int
            Rows of every batch this pass takes.
        sparse_input : bool, default=False
            Whether the batches are sparse matrices.

        Returns
        -------
        training_pass : TrainingPass or None
            None when a layer takes per-batch extras (``uses_sample_weight``
            or ``uses_row_keys``): then use :meth:`forward`.
        """
        if self.takes_batch_extras:
            return None
        layers = self.layers
        forwards, backwards = [], []
        inputs = [self.n_inputs, *self.widths[:-1]]
        for index, (layer, width) in enumerate(zip(layers, inputs, strict=True)):
            compiled = None
            if index > 0 or not sparse_input:
                compiled = layer._training_pass(n_rows, width, self.dtype)
            if compiled is None:
                compiled = (
                    functools.partial(layer.forward, training=True),
                    layer.backward,
                )
            forwards.append(compiled[0])
            backwards.append(compiled[1])
        return TrainingPass(forwards, backwards[::-1])

    @property
    def takes_batch_extras(self):
        """Whether a layer takes a batch's ``sample_weight`` or ``row_keys``."""
        return any(
            layer.uses_sample_weight or layer.uses_row_keys for layer in self.layers
        )

    def l2_penalty(self, strength):
        """``strength / 2 * ||W||**2`` over the penalised parameters."""
        decayed = self.coef[: self.n_decay]
        return 0.5 * strength * float(np.dot(decayed, decayed))

    def add_l2_penalty(self, strength):
        """Add ``strength * W`` to the penalised gradients; return the penalty.

        The penalty is :meth:`l2_penalty`; its gradient goes into ``grad``
        block by block through a scratch buffer of one block, kept for the
        next call.
        """
        return self.l2_penalty_adder(strength)()

    def l2_penalty_adder(self, strength):
        """:meth:`add_l2_penalty` with this ``strength``, as a function of no argument.

        Its blocks and buffer are resolved once, for the training loop to
        call at every step of the same batch size.
        """
        decayed, grad = self.coef[: self.n_decay], self.grad[: self.n_decay]
        scale = self.dtype.type(strength)
        blocks = cache_blocks(decayed)
        size = min(decayed.size, blocks[0].stop) if blocks else 0
        buffer = self.__dict__.get("_penalty_grad")
        if buffer is None or buffer.shape != (size,) or buffer.dtype != self.dtype:
            buffer = self._penalty_grad = np.empty(size, dtype=self.dtype)
        # One buffer for every block: it stays in cache (see cache_blocks).
        parts = [(decayed[p], grad[p], buffer[: decayed[p].size]) for p in blocks]
        half_strength = 0.5 * strength

        def add():
            for weights, grads, chunk in parts:
                np.multiply(weights, scale, out=chunk)
                grads += chunk
            return half_strength * float(np.dot(decayed, decayed))

        return add

    @property
    def dtype(self):
        """Floating dtype of parameters and activations, a ``numpy.dtype``.

        Kept by name: a saved model then holds no NumPy type object, which
        ``skops.io`` would ask users to trust before loading it.
        """
        return np.dtype(self._dtype_name)

    @property
    def n_params(self):
        """Number of trainable parameters."""
        return self.coef.size

    def __getstate__(self):
        state = self.__dict__.copy()
        # Layers carry their parameter values; the buffer is rebuilt on load.
        state.pop("coef", None)
        state.pop("grad", None)
        state.pop("_penalty_grad", None)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        if "dtype" in state:  # pickled by sknnlite 0.1.0: a numpy.dtype object
            state = {**state, "_dtype_name": np.dtype(state["dtype"]).name}
            del state["dtype"]
        self.__dict__.update(state)
        self.coef = None
        self._pack(copy_values=True)
        self._lock = ReadWriteLock()

    def __deepcopy__(self, memo):
        """A copy with its own buffers that copies ``coef`` once.

        The generic deep copy would copy every parameter and gradient view,
        then pack the parameters into a new buffer again: three copies of
        every parameter where one will do (callbacks snapshot the model
        every epoch this way).
        """
        new = memo[id(self)] = type(self).__new__(type(self))
        for layer in self.layers:
            for arrays in (layer.params, layer.grads):
                for view in arrays.values():
                    # A free stand-in of the right shape; _pack replaces it.
                    memo[id(view)] = np.broadcast_to(view.dtype.type(0), view.shape)
        new.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        new.coef = self.coef.copy()
        new._pack(copy_values=False)
        new._lock = ReadWriteLock()
        return new


class ReadWriteLock:
    """Many readers (predictions) or one writer (a training call) at a time.

    The writing thread may also read, and write again (re-entrant). Writers
    come first: once one waits, new readers wait too, so a stream of
    predictions cannot starve training.

    Examples
    --------
    >>> from sknnlite.network import ReadWriteLock
    >>> lock = ReadWriteLock()
    >>> with lock.writing():
    ...     with lock.reading():  # the writer may read
    ...         pass
    >>> with lock.reading():
    ...     pass
    """

    def __init__(self):
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = None
        self._writers_waiting = 0

    def acquire_read(self):
        """Take the read side; False (nothing taken) for the writing thread."""
        if self._writer == threading.get_ident():
            return False
        with self._condition:
            while self._writer is not None or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        return True

    def release_read(self):
        """Give back the read side taken by :meth:`acquire_read`."""
        with self._condition:
            self._readers -= 1
            if not self._readers and self._writers_waiting:
                self._condition.notify_all()

    @contextmanager
    def reading(self):
        """Hold the read side (shared) for the ``with`` block."""
        counted = self.acquire_read()
        try:
            yield
        finally:
            if counted:
                self.release_read()

    @contextmanager
    def writing(self):
        """Hold the write side (exclusive) for the ``with`` block."""
        me = threading.get_ident()
        if self._writer == me:
            yield
            return
        with self._condition:
            self._writers_waiting += 1
            while self._writer is not None or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writer = me
        try:
            yield
        finally:
            with self._condition:
                self._writer = None
                self._condition.notify_all()


class TrainingPass:
    """A network's training ``forward`` and ``backward``, resolved for one batch size.

    Made by :meth:`Network.training_pass`; holds one function per layer.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, Network, ReLU
    >>> network = Network([Dense(4), ReLU(), Dense(1)])
    >>> network = network.build(3, 1, np.random.default_rng(0), np.float64)
    >>> passes = network.training_pass(n_rows=5)
    >>> x = np.ones((5, 3))
    >>> bool(np.array_equal(passes.forward(x), network.forward(x, training=True)))
    True
    >>> passes.backward(np.ones((5, 1)))  # fills network.grad
    """

    __slots__ = ("_forwards", "_backwards")

    def __init__(self, forwards, backwards):
        self._forwards, self._backwards = forwards, backwards

    def forward(self, x):
        """Training forward of the batch ``x``; returns the output."""
        for forward in self._forwards:
            x = forward(x)
        return x

    def backward(self, grad_out):
        """Back-propagate ``grad_out`` (may be overwritten); fills ``grad``."""
        for backward in self._backwards:
            grad_out = backward(grad_out)


def train_forward(layers, x, sample_weight=None, row_keys=None):
    """Training ``forward`` through ``layers`` in order; returns the last output.

    Each layer gets the batch's ``sample_weight`` or ``row_keys`` if it
    asked for them with its ``uses_*`` flags.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, ReLU
    >>> from sknnlite.layers import build_layer
    >>> from sknnlite.network import train_backward, train_forward
    >>> layers = [Dense(3), ReLU()]
    >>> width = build_layer(layers[0], 2, np.random.default_rng(0), np.float64)
    >>> width = build_layer(layers[1], width, np.random.default_rng(0), np.float64)
    >>> out = train_forward(layers, np.ones((4, 2)))
    >>> out.shape, train_backward(layers, np.ones_like(out)).shape
    ((4, 3), (4, 2))
    """
    for layer in layers:
        if layer.uses_sample_weight or layer.uses_row_keys:
            extra = _batch_extras(layer, sample_weight, row_keys)
            x = layer.forward(x, training=True, **extra)
        else:  # the common case: no per-batch dict in the hot loop
            x = layer.forward(x, training=True)
    return x


def train_backward(layers, grad_out):
    """``backward`` through ``layers`` in reverse; returns the input gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense
    >>> from sknnlite.layers import build_layer
    >>> from sknnlite.network import train_backward, train_forward
    >>> layers = [Dense(3)]
    >>> build_layer(layers[0], 2, np.random.default_rng(0), np.float64)
    3
    >>> out = train_forward(layers, np.ones((4, 2)))
    >>> train_backward(layers, np.ones_like(out)).shape
    (4, 2)
    """
    for layer in reversed(layers):
        grad_out = layer.backward(grad_out)
    return grad_out


def infer_forward(layers, x, workspaces, owned):
    """Inference through ``layers``; returns ``(output, owned)``.

    ``workspaces`` holds one :class:`~sknnlite.layers.Workspace` per layer
    with ``uses_workspace`` (None for the others). ``owned`` says whether
    ``x`` is an array of the call that nothing reads afterwards; the
    returned flag says the same of the output (an array from a layer with a
    workspace, rather than ``x`` or an array a user's layer may keep), so
    that the next layer may write over it.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, ReLU
    >>> from sknnlite.layers import Workspace, build_layer
    >>> from sknnlite.network import infer_forward
    >>> layers = [Dense(3), ReLU()]
    >>> width = build_layer(layers[0], 2, np.random.default_rng(0), np.float64)
    >>> width = build_layer(layers[1], width, np.random.default_rng(0), np.float64)
    >>> workspaces = [Workspace() if l.uses_workspace else None for l in layers]
    >>> output, owned = infer_forward(layers, np.ones((4, 2)), workspaces, False)
    >>> output.shape
    (4, 3)
    """
    for layer, workspace in zip(layers, workspaces, strict=True):
        if workspace is None:
            output = layer.forward(x, training=False)
        else:
            workspace.input_is_scratch = owned
            output = layer.forward(x, training=False, workspace=workspace)
        if output is not x:
            owned = workspace is not None
        x = output
    return x, owned


def all_finite(array):
    """Whether every stored value of a dense or sparse array is finite."""
    values = array.data if sparse.issparse(array) else array
    return bool(np.isfinite(values).all())


def _batch_extras(layer, sample_weight, row_keys):
    """The keyword arguments a layer asked for with its ``uses_*`` flags."""
    extra = {}
    if layer.uses_sample_weight:
        extra["sample_weight"] = sample_weight
    if layer.uses_row_keys and row_keys is not None:
        extra["row_keys"] = row_keys
    return extra


def _layer_name(index, layer):
    """How errors name a layer: ``layers[2] (Dense)``."""
    return f"layers[{index}] ({type(layer).__name__})"


def _require_method(index, layer, method):
    """Raise ``NotImplementedError`` if ``layer`` lacks its own ``method``."""
    if getattr(type(layer), method) is getattr(Layer, method):
        raise NotImplementedError(
            f"{_layer_name(index, layer)} does not implement {method}. Write "
            f"{_MISSING_METHOD[method]}."
        )


def check_layers(layers, where="layers"):
    """Raise, naming the first element of ``layers`` that is not a layer.

    Layers and registered activation names (``"relu"``) are accepted.

    Raises
    ------
    ValueError
        For a string that is not an activation name (listing the names).
    TypeError
        For anything else that is not a :class:`~sknnlite.layers.Layer`.

    Examples
    --------
    >>> from sknnlite import Dense, ReLU
    >>> from sknnlite.network import check_layers
    >>> check_layers([Dense(8), ReLU(), Dense()])
    >>> check_layers([Dense(8), "relu", Dense()])  # activation names are layers too
    >>> check_layers([Dense(8), 64])
    Traceback (most recent call last):
        ...
    TypeError: layers[1] is a int (64), not a Layer...
    """
    for index, layer in enumerate(layers):
        if isinstance(layer, str):
            get_activation(layer, f"{where}[{index}]")
        elif not isinstance(layer, Layer):
            raise TypeError(f"{where}[{index}] is {_describe_non_layer(layer)}")


def resolve_layers(layers, where="layers"):
    """Return a list of ``layers`` with activation names replaced by their layers.

    Layer objects are kept as they are (not copied).

    Raises
    ------
    ValueError or TypeError
        As :func:`check_layers`, naming the element.

    Examples
    --------
    >>> from sknnlite import Dense
    >>> from sknnlite.network import resolve_layers
    >>> resolve_layers([Dense(8), "relu", Dense()])
    [Dense(8), ReLU(), Dense()]
    """
    check_layers(layers, where)
    return [
        get_activation(layer) if isinstance(layer, str) else layer for layer in layers
    ]


def _describe_non_layer(value):
    """What ``value`` is, and what to write instead, for the error message."""
    if isinstance(value, type) and issubclass(value, Layer):
        return (
            f"the class {value.__name__}, not a layer: write {value.__name__}() "
            "with parentheses."
        )
    hint = (
        "Every element of layers must be a sknnlite layer such as Dense(64) or "
        f"ReLU(), or an activation name: one of {sorted(ACTIVATIONS)}."
    )
    if isinstance(value, int):
        hint += (
            f" For a hidden layer of {value} units as in MLPRegressor's "
            f"hidden_layer_sizes, write Dense({value}), ReLU()."
        )
    return f"a {type(value).__name__} ({value!r}), not a Layer. {hint}"


def set_layer_params(layers, settings, where="layers"):
    """Return a new list of layers with ``layers__<i>[__<name>]`` settings applied.

    ``layers__<i>`` replaces element ``i``; ``layers__<i>__<name>`` sets a
    parameter of a copy of it (an activation name is first replaced by its
    layer, so ``layers__1__negative_slope`` works on ``"leaky_relu"``). The
    layers passed in are never modified.

    Parameters
    ----------
    layers : list of Layer or str
        The current layers.
    settings : dict
        Keys ``<where>__<i>`` or ``<where>__<i>__<name>``, and their values.
    where : str, default="layers"
        The name of the list, in keys and in errors.

    Returns
    -------
    new_layers : list

    Raises
    ------
    ValueError
        For an index out of range, naming the valid ones.

    Examples
    --------
    >>> from sknnlite import Dense, ReLU
    >>> from sknnlite.network import set_layer_params
    >>> layers = [Dense(8), ReLU(), Dense()]
    >>> set_layer_params(layers, {"layers__0__units": 16, "layers__1": "tanh"})
    [Dense(16), 'tanh', Dense()]
    >>> layers  # unchanged
    [Dense(8), ReLU(), Dense()]
    """
    new_layers = list(layers)
    copied = set()
    for key, value in settings.items():
        _, index_text, name = (key.split("__", 2) + [""])[:3]
        if not index_text.isdigit() or int(index_text) >= len(new_layers):
            raise ValueError(
                f"Invalid parameter {key!r}: there are {len(new_layers)} layers, "
                f"so use {where}__0 to {where}__{len(new_layers) - 1}."
            )
        index = int(index_text)
        if not name:
            new_layers[index] = value
            copied.discard(index)  # a later nested setting must copy it
            continue
        if index not in copied:
            current = new_layers[index]
            new_layers[index] = (
                get_activation(current, f"{where}[{index}]")
                if isinstance(current, str)
                else clone(current)
            )
            copied.add(index)
        new_layers[index].set_params(**{name: value})
    return new_layers


def _resolve_auto_settings(layers, n_targets):
    """Fill ``units=None`` on the last layer that has units and ``init="auto"``."""
    check_layers(layers)
    with_units = [layer for layer in layers if "units" in layer._param_names()]
    if with_units and with_units[-1].units is None:
        with_units[-1].set_params(units=n_targets)
    for index, layer in enumerate(layers):
        if layer.get_params(deep=False).get("init") == "auto":
            following = layers[index + 1] if index + 1 < len(layers) else None
            preferred = getattr(following, "preferred_init", "glorot_uniform")
            layer.set_params(init=preferred)
