"""Parameter handling shared by layers, optimizers and losses.

Layers and optimizers are plain configuration holders in the scikit-learn
sense: ``__init__`` stores its arguments unchanged, ``get_params`` and
``set_params`` read and write them, and :func:`sklearn.base.clone` can copy
them. This module gives them that behaviour without depending on
scikit-learn's estimator machinery.
"""

import inspect
import weakref

from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    make_constraint,
    validate_parameter_constraints,
)

__all__ = ["Configurable", "refuse_bool_numbers"]

#: Constraints under which ``True`` and ``False`` are valid values.
_BOOLEAN_CONSTRAINTS = ("boolean", "verbose", bool)


def refuse_bool_numbers(constraints, params, caller_name):
    """Refuse ``True``/``False`` for a setting that takes a number.

    Python counts a bool as an int, so scikit-learn's ``Interval(Integral,
    ...)`` accepts ``max_iter=True`` as 1 and ``batch_size=True`` slips
    through to NumPy. Every setting whose constraints take a number (an
    ``Interval``, numeric ``Options`` or ``"random_state"``) and no boolean
    is checked here, before scikit-learn's own validation.

    Parameters
    ----------
    constraints : dict
        scikit-learn's constraint table, ``{name: [constraint, ...]}``.
    params : dict
        The values to check, ``{name: value}``.
    caller_name : str
        How to name the owner in the error, e.g. ``"NNRegressor"``.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A ``ValueError`` naming the parameter, what it takes and the value.
    """
    for name, value in params.items():
        allowed = constraints.get(name, ())
        if not isinstance(value, bool) or not _takes_numbers(allowed):
            continue
        shown = [make_constraint(c) for c in allowed]
        shown = [str(c) for c in shown if not getattr(c, "hidden", False)]
        expected = " or ".join(
            [", ".join(shown[:-1]), shown[-1]] if shown[1:] else shown
        )
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller_name} must be {expected}, not a "
            f"bool. Got {value!r} instead."
        )


def _takes_numbers(allowed):
    """True when ``allowed`` takes numbers but no booleans."""
    if any(c in _BOOLEAN_CONSTRAINTS for c in allowed if isinstance(c, (str, type))):
        return False
    return any(
        isinstance(c, Interval)
        or (isinstance(c, Options) and c.type is not str)
        or c == "random_state"
        for c in allowed
    )


#: Constructor argument names by ``__init__`` function (dropped with it).
_PARAM_NAMES = weakref.WeakKeyDictionary()


class Configurable:
    """Mixin giving ``get_params``/``set_params`` and a code-like ``repr``.

    Subclasses list their settings as keyword arguments of ``__init__`` and
    store each one unchanged under the same attribute name, and declare what
    each accepts in ``_parameter_constraints`` (scikit-learn's constraint
    format: types, ``None``, ``"boolean"``, ``Interval``, ``StrOptions``).
    """

    _parameter_constraints: dict = {}

    def validate_params(self, owner=None):
        """Check the settings against ``_parameter_constraints``.

        Parameters
        ----------
        owner : str, default=None
            How to name this object in the error, e.g. ``"layers[2] (Dense)"``.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            A ``ValueError`` naming the parameter, the value and what is
            allowed; also for ``True`` or ``False`` given as a number (see
            :func:`refuse_bool_numbers`).
        """
        params = self.get_params(deep=False)
        owner = owner or type(self).__name__
        refuse_bool_numbers(self._parameter_constraints, params, owner)
        validate_parameter_constraints(
            self._parameter_constraints, params, caller_name=owner
        )

    @classmethod
    def _param_names(cls):
        """Names of the constructor arguments, in signature order.

        Kept per ``__init__`` function: ``inspect.signature`` costs about
        40 us, and a ``fit`` asks some 30 times (``get_params``, ``clone``).
        """
        init = cls.__init__
        if init is object.__init__:
            return []
        names = _PARAM_NAMES.get(init)
        if names is None:
            signature = inspect.signature(init)
            names = _PARAM_NAMES[init] = tuple(
                name
                for name, p in signature.parameters.items()
                if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            )
        return list(names)

    def get_params(self, deep=True):
        """Return the constructor arguments of this object.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested objects that have
            ``get_params``, as ``<name>__<nested name>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                for sub_name, sub_value in value.get_params(deep=True).items():
                    params[f"{name}__{sub_name}"] = sub_value
            params[name] = value
        return params

    def set_params(self, **params):
        """Set constructor arguments, nested ones as ``<name>__<nested name>``.

        Parameters
        ----------
        **params : dict
            New parameter values.

        Returns
        -------
        self : object
            This object.
        """
        valid = self._param_names()
        nested = {}
        for key, value in params.items():
            name, _, sub_name = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
            if sub_name:
                nested.setdefault(name, {})[sub_name] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def _changed_params(self):
        """Parameters whose value differs from the constructor default."""
        signature = inspect.signature(type(self).__init__)
        changed = {}
        for name in self._param_names():
            default = signature.parameters[name].default
            value = getattr(self, name)
            if default is inspect.Parameter.empty or not _same(value, default):
                changed[name] = value
        return changed

    def __repr__(self):
        names = self._param_names()
        changed = self._changed_params()
        parts = []
        for index, (name, value) in enumerate(changed.items()):
            positional = index == 0 and names and name == names[0]
            parts.append(repr(value) if positional else f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _same(value, default):
    """True when ``value`` is the default (numbers compared by value)."""
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):
        return False
