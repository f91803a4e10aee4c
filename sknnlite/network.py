"""The network engine: a list of layers with one flat parameter buffer.

:class:`Network` builds its layers, moves their parameters into a single
contiguous vector (``coef``, gradients in ``grad``) and runs data forward and
gradients backward. It knows nothing about scikit-learn.
"""

import copy

import numpy as np

from . import _hashing
from .layers import Layer, build_layer

__all__ = ["Network", "check_layers"]


class Network:
    """A built stack of layers whose parameters share one buffer.

    Parameters
    ----------
    layers : list of Layer
        Layers to own; they are built and modified in place, so pass copies.

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
        _resolve_auto_settings(self.layers, n_targets)
        width = n_inputs
        self.widths = []
        for layer in self.layers:
            width = build_layer(layer, width, rng, self.dtype)
            self.widths.append(width)
        self.n_outputs = width
        wants_keys = any(layer.uses_row_keys for layer in self.layers)
        self.row_projection_ = rng.normal(size=n_inputs) if wants_keys else None
        self.layers[0].skip_input_grad = True
        self._pack(copy_values=True)
        return self

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

    def forward(self, x, training=False, sample_weight=None):
        """Run ``x`` through every layer and return the output.

        ``sample_weight`` reaches only the layers with ``uses_sample_weight``
        (such as ``BatchNorm``); while training, layers with
        ``uses_row_keys`` (such as ``Dropout``) get one key per input row.
        """
        if not training:  # no layer needs weights or keys at inference
            for layer in self.layers:
                x = layer.forward(x, training=False)
            return x
        row_keys = None
        if self.row_projection_ is not None:
            row_keys = _hashing.row_keys(x, self.row_projection_)
        for layer in self.layers:
            if layer.uses_sample_weight or layer.uses_row_keys:
                extra = _batch_extras(layer, sample_weight, row_keys)
                x = layer.forward(x, training=True, **extra)
            else:  # the common case: no per-batch dict in the hot loop
                x = layer.forward(x, training=True)
        return x

    def backward(self, grad_out):
        """Back-propagate ``grad_out``; fills ``grad`` for every parameter."""
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)

    def check_grads_bound(self):
        """Raise if a layer replaced its gradient arrays instead of filling them."""
        for index, layer in enumerate(self.layers):
            for name, array in layer.grads.items():
                if not np.shares_memory(array, self.grad):
                    raise RuntimeError(
                        f"layers[{index}] ({type(layer).__name__}) replaced "
                        f"grads[{name!r}] instead of writing into it. Write "
                        f"gradients in place: self.grads[{name!r}][...] = value."
                    )

    def predict(self, x, chunk_rows=2048):
        """Forward ``x`` in chunks of ``chunk_rows`` rows; returns a new array."""
        n_samples = x.shape[0]
        out = np.empty((n_samples, self.n_outputs), dtype=self.dtype)
        for start in range(0, n_samples, chunk_rows):
            stop = min(start + chunk_rows, n_samples)
            out[start:stop] = self.forward(x[start:stop], training=False)
        return out

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

    def l2_penalty(self, strength):
        """``strength / 2 * ||W||**2`` over the penalised parameters."""
        decayed = self.coef[: self.n_decay]
        return 0.5 * strength * float(np.dot(decayed, decayed))

    def add_l2_penalty(self, strength):
        """Add ``strength * W`` to the penalised gradients; return the penalty.

        The penalty is :meth:`l2_penalty`; its gradient goes into ``grad``
        through a scratch buffer kept for the next call.
        """
        decayed = self.coef[: self.n_decay]
        buffer = self.__dict__.get("_penalty_grad")
        if buffer is None or buffer.shape != decayed.shape:
            buffer = self._penalty_grad = np.empty_like(decayed)
        np.multiply(decayed, self.dtype.type(strength), out=buffer)
        self.grad[: self.n_decay] += buffer
        return 0.5 * strength * float(np.dot(decayed, decayed))

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
        return state

    def __setstate__(self, state):
        if "dtype" in state:  # pickled by sknnlite 0.1.0: a numpy.dtype object
            state = {**state, "_dtype_name": np.dtype(state["dtype"]).name}
            del state["dtype"]
        self.__dict__.update(state)
        self.coef = None
        self._pack(copy_values=True)

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
        return new


def _batch_extras(layer, sample_weight, row_keys):
    """The keyword arguments a layer asked for with its ``uses_*`` flags."""
    extra = {}
    if layer.uses_sample_weight:
        extra["sample_weight"] = sample_weight
    if layer.uses_row_keys and row_keys is not None:
        extra["row_keys"] = row_keys
    return extra


def check_layers(layers):
    """Raise ``TypeError`` naming the first element of ``layers`` not a Layer."""
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{index}] is {_describe_non_layer(layer)}")


def _describe_non_layer(value):
    """What ``value`` is, and what to write instead, for the error message."""
    if isinstance(value, type) and issubclass(value, Layer):
        return (
            f"the class {value.__name__}, not a layer: write {value.__name__}() "
            "with parentheses."
        )
    hint = (
        "Every element of layers must be a sknnlite layer such as Dense(64) or ReLU()."
    )
    if isinstance(value, int):
        hint += (
            f" For a hidden layer of {value} units as in MLPRegressor's "
            f"hidden_layer_sizes, write Dense({value}), ReLU()."
        )
    return f"a {type(value).__name__} ({value!r}), not a Layer. {hint}"


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
