"""Layers made of layers: :class:`Sequential` and the residual block :class:`Residual`.

A container is a layer like any other (it follows the contract of
:mod:`sknnlite.layers` and passes :func:`sknnlite.testing.check_layer`), so
it can sit anywhere in ``layers`` and inside another container, to any
depth. Like an estimator, it takes a template: its ``layers`` parameter is
never modified, and ``build`` trains fresh copies, stored in ``layers_``.

How the pieces of the contract compose:

* Parameters. A container's ``params`` and ``grads`` show the arrays of its
  members under ``"<member>.<name>"`` (``"0.W"``, ``"norm.gamma"``,
  ``"projection.W"``; nested containers give ``"2.0.W"``). They are live
  views: when the network replaces an entry by a view into its parameter
  vector, the member's own dict gets it, so members always compute with
  the network's arrays. ``decayed`` lists the members' penalised ones.
* Settings. ``get_params`` and ``set_params`` reach into the members as
  ``layers__<i>__<name>``, so an estimator tunes them as
  ``layers__2__layers__0__units``; ``set_params`` works on copies.
* Batch extras and flags. ``uses_sample_weight`` and ``uses_row_keys`` are
  true when a member's are, ``min_batch_rows`` is the largest of the
  members', and the batch's weights and row keys reach the
  members that asked for them; ``skip_input_grad`` passes to the members
  that receive the container's input.
* State. ``get_state``/``set_state`` save and restore every member's state
  (``BatchNorm``'s running statistics), so early stopping's best weights
  include them.
* Inference. Each member with ``uses_workspace`` gets its own workspace,
  nested in the container's (:meth:`~sknnlite.layers.Workspace.nested`):
  nothing is written on the container or its members.
* ONNX. ``onnx_forward`` adds each member's nodes with
  :meth:`sknnlite.onnx.OnnxGraph.layer`.
"""

from collections.abc import MutableMapping

import numpy as np
from scipy import sparse
from sklearn.base import clone

from .activations import ACTIVATIONS
from .layers import Dense, Layer, Workspace, build_layer
from .network import (
    _resolve_auto_settings,
    check_layers,
    infer_forward,
    resolve_layers,
    set_layer_params,
    train_backward,
    train_forward,
)

__all__ = ["Sequential", "Residual"]


class _MemberArrays(MutableMapping):
    """A container's ``params`` or ``grads``: its members' arrays, live.

    Keys are ``"<member>.<name>"``. Reading returns the member's array;
    assigning replaces it in the member's own dict, which is how the network
    rebinds parameters to views into its buffer.
    """

    def __init__(self, members, kind):
        self._members = members  # dict: member key -> layer
        self._kind = kind  # "params" or "grads"

    def _owner(self, key):
        """The member's dict holding ``key``, and the name in it."""
        member, _, name = key.partition(".")
        layer = self._members.get(member)
        arrays = None if layer is None else getattr(layer, self._kind)
        if arrays is None or name not in arrays:
            raise KeyError(key)
        return arrays, name

    def __getitem__(self, key):
        arrays, name = self._owner(key)
        return arrays[name]

    def __setitem__(self, key, value):
        arrays, name = self._owner(key)
        arrays[name] = value

    def __delitem__(self, key):
        raise TypeError("The parameters of a container's members cannot be removed.")

    def __iter__(self):
        for member, layer in self._members.items():
            for name in getattr(layer, self._kind):
                yield f"{member}.{name}"

    def __len__(self):
        return sum(len(getattr(layer, self._kind)) for layer in self._members.values())

    def __repr__(self):
        return repr(dict(self))


class Sequential(Layer):
    """Layers applied one after the other, as one layer.

    Parameters
    ----------
    layers : list of Layer or str
        Template of the members, e.g. ``[Dense(64), "relu", Dense(32)]``
        (activation names as in the estimator's ``layers``). It is never
        modified: ``build`` trains copies, stored in ``layers_``. A last
        ``Dense()`` without ``units`` takes the width of the container's
        input; ``Dense(init="auto")`` looks at the next member.

    Attributes
    ----------
    layers_ : list of Layer
        The built members.
    widths_ : dict of str to int
        Output width of each member, keyed as in ``params`` (``"0"``, ...).

    Examples
    --------
    >>> from sknnlite import Dense, NNRegressor, Sequential
    >>> block = Sequential([Dense(32), "relu"])
    >>> model = NNRegressor([block, block, Dense()])
    >>> model.get_params()["layers__0__layers__0__units"]
    32
    """

    _parameter_constraints = {"layers": [list, tuple]}

    uses_workspace = True

    def __init__(self, layers):
        self.layers = layers

    # ------------------------------------------------------------ members
    def _members(self):
        """``{key: layer}`` of the built members, in the order data flows."""
        return {str(index): layer for index, layer in enumerate(self.layers_)}

    def _template_members(self):
        """The unbuilt members, in the order data flows (names resolved)."""
        return [
            ACTIVATIONS[layer]() if isinstance(layer, str) else layer
            for layer in self.layers
            if not isinstance(layer, str) or layer in ACTIVATIONS
        ]

    def _input_members(self):
        """Built members that receive the container's own input."""
        return self.layers_[:1]

    def _flagged(self, flag):
        """Whether any member (built, or in the template) sets ``flag``."""
        built = self.__dict__.get("layers_")
        members = self._members().values() if built is not None else None
        if members is None:
            members = self._template_members()
        return any(getattr(member, flag) for member in members)

    @property
    def uses_sample_weight(self):
        """True when a member takes the batch's sample weights."""
        return self._flagged("uses_sample_weight")

    @property
    def uses_row_keys(self):
        """True when a member takes the batch's row keys."""
        return self._flagged("uses_row_keys")

    @property
    def min_batch_rows(self):
        """Fewest rows a training batch needs: the most any member needs."""
        built = self.__dict__.get("layers_")
        members = self._members().values() if built is not None else None
        if members is None:
            members = self._template_members()
        return max((member.min_batch_rows for member in members), default=1)

    @property
    def accepts_sparse(self):
        """Whether the first member takes sparse rows."""
        members = self._template_members()
        return bool(members) and getattr(members[0], "accepts_sparse", False)

    @property
    def preferred_init(self):
        """The initialiser the first member asks of the layer before."""
        members = self._template_members()
        return members[0].preferred_init if members else Layer.preferred_init

    @property
    def skip_input_grad(self):
        """Set by the network when this is its first layer; passed to members."""
        return self.__dict__.get("skip_input_grad", False)

    @skip_input_grad.setter
    def skip_input_grad(self, value):
        self.__dict__["skip_input_grad"] = value
        if "layers_" in self.__dict__:
            for member in self._input_members():
                member.skip_input_grad = value

    # -------------------------------------------------------------- build
    def build(self, n_inputs, rng, dtype):
        self.widths_ = {}
        width = self._build_members(n_inputs, rng, dtype)
        self._bind_members()
        return width

    def _build_members(self, n_inputs, rng, dtype):
        """Build copies of ``layers`` in a chain from ``n_inputs``; return the width."""
        owner = f"{type(self).__name__}.layers"
        if len(self.layers) == 0:
            raise ValueError(
                f"{owner} is empty. Give at least one layer, e.g. "
                f"{type(self).__name__}([Dense(64), 'relu', Dense()])."
            )
        self.layers_ = resolve_layers([_copy(layer) for layer in self.layers], owner)
        _resolve_auto_settings(self.layers_, n_inputs)
        width = n_inputs
        for index, layer in enumerate(self.layers_):
            name = f"{owner}[{index}] ({type(layer).__name__})"
            width = build_layer(layer, width, rng, dtype, name=name)
            self.widths_[str(index)] = width
        return width

    def _bind_members(self):
        """Point ``params``/``grads``/``decayed`` at the members' arrays."""
        members = self._members()
        self.params = _MemberArrays(members, "params")
        self.grads = _MemberArrays(members, "grads")
        self.decayed = [
            f"{key}.{name}" for key, layer in members.items() for name in layer.decayed
        ]
        self.skip_input_grad = self.skip_input_grad  # reach the new members

    # ---------------------------------------------------- forward, backward
    def forward(
        self, x, training=False, sample_weight=None, row_keys=None, workspace=None
    ):
        if training:
            return train_forward(self.layers_, x, sample_weight, row_keys)
        workspace = Workspace() if workspace is None else workspace
        output, _ = _infer_members(
            self._members(), x, workspace, workspace.input_is_scratch
        )
        return output

    def backward(self, grad_out):
        return train_backward(self.layers_, grad_out)

    # ------------------------------------------------------- state, settings
    def get_state(self):
        """Copies of every member's state, keyed ``"<member>.<name>"``."""
        return {
            f"{key}.{name}": value
            for key, layer in self._members().items()
            for name, value in layer.get_state().items()
        }

    def set_state(self, state):
        """Write a state from :meth:`get_state` back into the members."""
        grouped = {}
        for key, value in state.items():
            member, _, name = key.partition(".")
            grouped.setdefault(member, {})[name] = value
        members = self._members()
        for member, member_state in grouped.items():
            members[member].set_state(member_state)

    def validate_params(self, owner=None):
        """Check the settings of the container and of every member.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError, TypeError
            Naming the member as ``<owner>.layers[<i>] (<class>)``.
        """
        owner = owner or type(self).__name__
        super().validate_params(owner)
        check_layers(self.layers, f"{owner}.layers")
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, str):
                layer.validate_params(
                    f"{owner}.layers[{index}] ({type(layer).__name__})"
                )

    def get_params(self, deep=True):
        """Settings, with ``deep`` also each member's as ``layers__<i>__<name>``.

        Parameters
        ----------
        deep : bool, default=True
            Include the members (``layers__<i>``) and their settings.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        if deep:
            for index, layer in enumerate(self.layers):
                params[f"layers__{index}"] = layer
                if hasattr(layer, "get_params"):
                    for name, value in layer.get_params(deep=True).items():
                        params[f"layers__{index}__{name}"] = value
        return params

    def set_params(self, **params):
        """Set settings; ``layers__<i>[__<name>]`` apply to copies of the members.

        Parameters
        ----------
        **params : dict
            Settings of the container and of its members.

        Returns
        -------
        self : Sequential
        """
        members = {k: v for k, v in params.items() if k.startswith("layers__")}
        super().set_params(**{k: v for k, v in params.items() if k not in members})
        if members:
            self.layers = set_layer_params(self.layers, members)
        return self

    # ------------------------------------------------------- pickle, export
    def __getstate__(self):
        state = super().__getstate__()
        for derived in ("params", "grads", "decayed"):
            state.pop(derived, None)  # rebuilt from the members on load
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "layers_" in state:
            self._bind_members()

    def onnx_forward(self, graph, x):
        """Add every member's nodes to an ONNX graph (see :mod:`sknnlite.onnx`)."""
        for key, layer in self._members().items():
            x = graph.layer(layer, x, name=f"{type(self).__name__}[{key}]")
        return x

    def _summary_members(self):
        """``(key, layer, width)`` of each built member, for ``summary()``."""
        return [
            (key, layer, self.widths_[key]) for key, layer in self._members().items()
        ]

    def _summary_label(self):
        """How ``summary()`` names the container: its settings but the members."""
        settings = {k: v for k, v in self._changed_params().items() if k != "layers"}
        inner = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        return f"{type(self).__name__}({inner})"

    def _sk_visual_block_(self):
        """Show the members as a nested serial block in the notebook HTML repr."""
        from sklearn.utils._repr_html.estimator import _VisualBlock

        members = self._template_entries()
        return _VisualBlock(
            "serial",
            [layer for _, layer in members],
            names=[f"{key}: {_label(layer)}" for key, layer in members],
            name_details=[repr(layer) for _, layer in members],
            dash_wrapped=False,
        )

    def _template_entries(self):
        """``(key, layer)`` of the template's members, for the HTML repr."""
        return [(str(index), layer) for index, layer in enumerate(self.layers)]


class Residual(Sequential):
    """Residual block: ``output = x + f(x)``, with ``f`` the member layers.

    The skip connection lets the gradient reach lower layers unchanged, so
    deep stacks train as easily as shallow ones (He et al., "Deep Residual
    Learning for Image Recognition", CVPR 2016); on tabular data a stack of
    such blocks is a strong simple baseline (the "ResNet" of Gorishniy et al.,
    "Revisiting Deep Learning Models for Tabular Data", NeurIPS 2021).

    Parameters
    ----------
    layers : list of Layer or str
        Template of ``f``, e.g. ``[Dense(128), "relu", Dropout(0.1), Dense()]``.
        A last ``Dense()`` without ``units`` takes the width of the block's
        input, so that no projection is needed.
    norm : Layer or None, default=None
        A normalisation applied to the input of ``f`` only:
        ``output = x + f(norm(x))``, the "pre-activation" form (He et al.,
        "Identity Mappings in Deep Residual Networks", ECCV 2016) used by
        Gorishniy et al. with ``BatchNorm()``. The skip path stays the
        identity. For the original form ``norm(x + f(x))``, put the
        normalisation after the block in ``layers``.

    Attributes
    ----------
    layers_ : list of Layer
        The built members of ``f``.
    norm_ : Layer or None
        The built normalisation.
    projection_ : Dense or None
        When the output width of ``f`` differs from the input width, a
        learned projection of the skip path, ``x @ P`` (no bias, penalised by
        ``alpha`` like other weights): ``output = x @ P + f(x)``. None when
        the widths agree.
    widths_ : dict of str to int
        Output width of each member, keyed as in ``params``.

    Notes
    -----
    With ``G`` the gradient of the output, the input gradient is ``G`` (or
    ``G @ P.T`` through the projection) plus the input gradient of ``f``.
    Parameters appear in ``params`` as ``"norm.<name>"``, ``"<i>.<name>"``
    and ``"projection.W"``.

    Examples
    --------
    >>> from sknnlite import BatchNorm, Dense, NNRegressor, Residual
    >>> model = NNRegressor([
    ...     Dense(64),
    ...     Residual([Dense(128), "relu", Dense()], norm=BatchNorm()),
    ...     Residual([Dense(128), "relu", Dense()], norm=BatchNorm()),
    ...     BatchNorm(), "relu", Dense(),
    ... ])
    """

    _parameter_constraints = {"layers": [list, tuple], "norm": [Layer, None]}

    #: ``x + f(x)`` adds the input itself: the network gives it dense rows.
    accepts_sparse = False

    def __init__(self, layers, *, norm=None):
        self.layers = layers
        self.norm = norm

    def validate_params(self, owner=None):
        owner = owner or type(self).__name__
        super().validate_params(owner)
        if self.norm is not None:
            self.norm.validate_params(f"{owner}.norm ({type(self.norm).__name__})")

    def _members(self):
        members = {} if self.norm_ is None else {"norm": self.norm_}
        members.update(super()._members())
        if self.projection_ is not None:
            members["projection"] = self.projection_
        return members

    def _branch(self):
        """The layers of ``f``, normalisation first."""
        return self.layers_ if self.norm_ is None else [self.norm_, *self.layers_]

    def _template_members(self):
        return ([] if self.norm is None else [self.norm]) + super()._template_members()

    def _template_entries(self):
        norm = [] if self.norm is None else [("norm", self.norm)]
        return norm + super()._template_entries()

    def _input_members(self):
        first = self._branch()[:1]
        return first + ([] if self.projection_ is None else [self.projection_])

    def build(self, n_inputs, rng, dtype):
        self.widths_ = {}
        self.norm_, width = None, n_inputs
        if self.norm is not None:
            self.norm_ = clone(self.norm)
            width = build_layer(self.norm_, n_inputs, rng, dtype, name="Residual.norm")
            self.widths_["norm"] = width
        width = self._build_members(width, rng, dtype)
        self.projection_ = None
        if width != n_inputs:
            self.projection_ = Dense(width, init="glorot_uniform", use_bias=False)
            build_layer(self.projection_, n_inputs, rng, dtype)
            self.widths_["projection"] = width
        self._bind_members()
        return width

    def forward(
        self, x, training=False, sample_weight=None, row_keys=None, workspace=None
    ):
        if training:
            branch = train_forward(self._branch(), x, sample_weight, row_keys)
            skip = self._skip(x, training=True)
            # Not in place: the last member may need its output in backward.
            return np.add(branch, skip, out=self.scratch("_out", branch.shape, x.dtype))
        workspace = Workspace() if workspace is None else workspace
        members = {k: v for k, v in self._members().items() if k != "projection"}
        # The skip path reads x again, so no member may write over it.
        branch, owned = _infer_members(members, x, workspace, owned=False)
        skip = self._skip(x, training=False, workspace=workspace)
        if owned:
            branch += skip
            return branch
        out = workspace.scratch("_out", branch.shape, branch.dtype)
        return np.add(branch, skip, out=out)

    def _skip(self, x, training, workspace=None):
        """The skip path: ``x``, or its projection when the widths differ."""
        if self.projection_ is None:
            return x.toarray() if sparse.issparse(x) else x
        if training:
            return self.projection_.forward(x, training=True)
        return self.projection_.forward(
            x, training=False, workspace=workspace.nested("projection")
        )

    def backward(self, grad_out):
        skip_grad = grad_out
        if self.projection_ is not None:  # before f may overwrite grad_out
            skip_grad = self.projection_.backward(grad_out)
        if self.skip_input_grad:
            train_backward(self._branch(), grad_out)
            return None
        grad_in = self.scratch("_grad_in", skip_grad.shape, skip_grad.dtype)
        np.copyto(grad_in, skip_grad)
        grad_in += train_backward(self._branch(), grad_out)
        return grad_in

    def onnx_forward(self, graph, x):
        """``x`` (or its projection) plus the members' output, as ONNX nodes."""
        branch = x
        for key, layer in self._members().items():
            if key != "projection":
                branch = graph.layer(layer, branch, name=f"Residual[{key}]")
        skip = x
        if self.projection_ is not None:
            skip = graph.layer(self.projection_, x, name="Residual[projection]")
        return graph.node("Add", [branch, skip])


def _infer_members(members, x, workspace, owned):
    """Inference through ``members`` (a dict), each in its nested workspace."""
    layers = list(members.values())
    workspaces = [
        workspace.nested(key) if layer.uses_workspace else None
        for key, layer in members.items()
    ]
    return infer_forward(layers, x, workspaces, owned)


def _copy(layer):
    """A fresh copy of a template member (an activation name stays a name)."""
    return layer if isinstance(layer, str) else clone(layer)


def _label(layer):
    """A member's class name, or an activation name as given."""
    return repr(layer) if isinstance(layer, str) else type(layer).__name__
