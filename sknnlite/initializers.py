"""Weight initialisers, looked up by name.

Each initialiser takes ``(shape, fan_in, fan_out, rng, dtype)`` and returns a
new array. ``rng`` is a :class:`numpy.random.Generator`; nothing here touches
NumPy's global random state.
"""

import numpy as np

__all__ = ["INITIALIZERS", "get_initializer"]


def he_uniform(shape, fan_in, fan_out, rng, dtype):
    """Uniform on ``[-b, b]`` with ``b = sqrt(6 / fan_in)`` (He et al., 2015)."""
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def he_normal(shape, fan_in, fan_out, rng, dtype):
    """Normal with standard deviation ``sqrt(2 / fan_in)`` (He et al., 2015)."""
    scale = np.sqrt(2.0 / fan_in)
    return rng.normal(0.0, scale, size=shape).astype(dtype, copy=False)


def glorot_uniform(shape, fan_in, fan_out, rng, dtype):
    """Uniform on ``[-b, b]`` with ``b = sqrt(6 / (fan_in + fan_out))``."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def glorot_normal(shape, fan_in, fan_out, rng, dtype):
    """Normal with standard deviation ``sqrt(2 / (fan_in + fan_out))``."""
    scale = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, scale, size=shape).astype(dtype, copy=False)


def lecun_normal(shape, fan_in, fan_out, rng, dtype):
    """Normal with standard deviation ``sqrt(1 / fan_in)`` (LeCun, 1998)."""
    scale = np.sqrt(1.0 / fan_in)
    return rng.normal(0.0, scale, size=shape).astype(dtype, copy=False)


def zeros(shape, fan_in, fan_out, rng, dtype):
    """All zeros (used for biases)."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "lecun_normal": lecun_normal,
    "zeros": zeros,
}


def get_initializer(name, argument="init"):
    """Return the initialiser called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`INITIALIZERS`.
    argument : str, default="init"
        How to name the setting in the error message.

    Returns
    -------
    initializer : callable

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite.initializers import get_initializer
    >>> he = get_initializer("he_uniform")
    >>> he((3, 2), 3, 2, np.random.default_rng(0), np.float64).shape
    (3, 2)
    >>> get_initializer("he")
    Traceback (most recent call last):
        ...
    ValueError: init='he' is not a known initialiser. Use one of ['glorot_normal', ...].
    """
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"{argument}={name!r} is not a known initialiser. "
            f"Use one of {sorted(INITIALIZERS)}."
        ) from None
