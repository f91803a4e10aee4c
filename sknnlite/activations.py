"""Element-wise activation layers, and the registry of their names.

Each activation computes its output into a reused buffer (kept on the layer
while training, owned by the call at inference) and writes its derivative in
terms of that output (or of a mask kept during a training ``forward``),
multiplying the incoming gradient in place. None has parameters.

Wherever a layer is expected, a name from :data:`ACTIVATIONS` can stand for
the activation with its default settings (``[Dense(64), "relu", Dense()]``,
``set_params(layers__1="tanh")``): ``fit`` resolves it with
:func:`get_activation`. Names are plain strings, so search spaces that must
be stored as JSON (Optuna's database-backed studies) can hold them.
"""

import math
from numbers import Real

import numpy as np
from scipy.special import erf
from sklearn.utils._param_validation import Interval

from .layers import Layer, Workspace

__all__ = [
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Identity",
    "Softplus",
    "ELU",
    "SELU",
    "GELU",
    "SiLU",
    "Mish",
    "Softsign",
    "ACTIVATIONS",
    "get_activation",
]


class Activation(Layer):
    """Base of parameter-free element-wise layers.

    Subclasses implement ``_apply(x, out, buffers)``, which writes the
    activation of ``x`` into ``out`` and takes any other array it needs from
    ``buffers`` (the layer while training, the call's workspace at
    inference), and ``_scale_grad(grad)``, which multiplies ``grad`` in place
    by the derivative at the last training input.
    """

    uses_workspace = True

    #: Whether ``_apply`` is right with ``out`` being ``x`` (no element of
    #: ``x`` is read after ``out`` is written): then inference writes over an
    #: input that the network lets it overwrite.
    in_place = False

    def forward(self, x, training=False, workspace=None):
        if training:
            out = self.scratch("_out", x.shape, x.dtype)
            self._apply(x, out, self)
            self._remember(x, out)
            return out
        workspace = Workspace() if workspace is None else workspace
        if self.in_place and workspace.input_is_scratch:
            out = x
        else:
            out = workspace.scratch("_out", x.shape, x.dtype)
        self._apply(x, out, workspace)
        return out

    def backward(self, grad_out):
        self._scale_grad(grad_out)
        return grad_out

    def _training_pass(self, n_rows, n_inputs, dtype):
        cls = type(self)
        if (
            cls.forward is not Activation.forward
            or cls.backward is not Activation.backward
        ):
            return None
        out = self.scratch("_out", (n_rows, n_inputs), dtype)
        apply, remember, scale_grad = self._apply, self._remember, self._scale_grad

        def forward(x):
            apply(x, out, self)
            remember(x, out)
            return out

        def backward(grad_out):
            scale_grad(grad_out)
            return grad_out

        return forward, backward

    def _remember(self, x, out):
        """Keep what the derivative needs (by default the output)."""
        self._y = out

    def _apply(self, x, out, buffers):
        raise NotImplementedError

    def _scale_grad(self, grad):
        raise NotImplementedError


class ReLU(Activation):
    """Rectified linear unit, ``max(x, 0)``.

    Notes
    -----
    The derivative is 1 where the input is positive and 0 elsewhere.
    ``forward`` keeps that mask in the floating dtype: ``backward`` then
    multiplies by it about twice as fast as by a boolean mask.

    A preceding ``Dense(init="auto")`` uses Glorot uniform, as MLPRegressor
    does: measured with ``benchmarks/bench_accuracy.py`` it learns faster
    than He at a budget of 10-200 epochs (see :class:`~sknnlite.Dense`).

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import ReLU
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(ReLU().forward(x), 3))
    [[0.  0.  0.  1.5]]

    In a network, after each hidden ``Dense`` layer (which then starts from Glorot
    initialisation, as MLP):

    >>> from sknnlite import Dense, NNRegressor
    >>> NNRegressor([Dense(64), ReLU(), Dense()])
    NNRegressor(layers=[Dense(64), ReLU(), Dense()])
    """

    # Glorot, not He: measured, see the Dense docstring.
    preferred_init = "glorot_uniform"
    in_place = True

    def _remember(self, x, out):
        self._mask = self.scratch("_mask_buf", x.shape, x.dtype)
        np.greater(x, 0, out=self._mask)

    def _apply(self, x, out, buffers):
        # NumPy's maximum is several times faster against an array than a scalar.
        np.maximum(x, buffers.zeros("_zeros", x.shape, x.dtype), out=out)

    def _scale_grad(self, grad):
        grad *= self._mask

    def _training_pass(self, n_rows, n_inputs, dtype):
        if type(self) is not ReLU:  # a subclass may change what these compute
            return super()._training_pass(n_rows, n_inputs, dtype)
        shape = (n_rows, n_inputs)
        out = self.scratch("_out", shape, dtype)
        zeros = self.zeros("_zeros", shape, dtype)
        mask = self._mask = self.scratch("_mask_buf", shape, dtype)

        def forward(x):
            np.maximum(x, zeros, out=out)
            np.greater(x, 0, out=mask)
            return out

        def backward(grad_out):
            grad_out *= mask
            return grad_out

        return forward, backward


class LeakyReLU(Activation):
    """Leaky rectified linear unit, ``x if x > 0 else negative_slope * x``.

    Parameters
    ----------
    negative_slope : float, default=0.01
        Slope for negative inputs.

    Notes
    -----
    A preceding ``Dense(init="auto")`` uses Glorot uniform, as before
    :class:`ReLU` (measured: mean R² 0.04 higher than He at 30 epochs).

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import LeakyReLU
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(LeakyReLU(negative_slope=0.1).forward(x), 3))
    [[-0.2  -0.05  0.    1.5 ]]
    """

    preferred_init = "glorot_uniform"

    _parameter_constraints = {
        "negative_slope": [Interval(Real, None, None, closed="neither")],
    }

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def _apply(self, x, out, buffers):
        np.multiply(x, self.negative_slope, out=out)
        np.copyto(out, x, where=x > 0)

    def _remember(self, x, out):
        self._slope = self.scratch("_slope_buf", x.shape, x.dtype)
        self._slope.fill(self.negative_slope)
        np.copyto(self._slope, 1, where=x > 0)

    def _scale_grad(self, grad):
        grad *= self._slope


class Sigmoid(Activation):
    """Logistic function ``1 / (1 + exp(-x))``, stable for any ``x``.

    Notes
    -----
    Computed as ``0.5 * (1 + tanh(x / 2))``, which never overflows. The
    derivative is ``y * (1 - y)`` with ``y`` the output.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Sigmoid
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(Sigmoid().forward(x), 3))
    [[0.119 0.378 0.5   0.818]]
    """

    in_place = True

    def _apply(self, x, out, buffers):
        np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5

    def _scale_grad(self, grad):
        y = self._y
        grad *= y
        grad *= 1 - y


class Tanh(Activation):
    """Hyperbolic tangent. The derivative is ``1 - y**2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Tanh
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(Tanh().forward(x), 3))
    [[-0.964 -0.462  0.     0.905]]
    """

    in_place = True

    def _apply(self, x, out, buffers):
        np.tanh(x, out=out)

    def _scale_grad(self, grad):
        y = self._y
        grad *= 1 - y * y


class Identity(Activation):
    """Pass-through layer, ``y = x``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Identity
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(Identity().forward(x), 3))
    [[-2.  -0.5  0.   1.5]]
    """

    uses_workspace = False

    def forward(self, x, training=False):
        return x

    def backward(self, grad_out):
        return grad_out


class Softplus(Activation):
    """Smooth ReLU, ``log(1 + exp(x))``, computed without overflow.

    Notes
    -----
    The derivative is ``sigmoid(x) = 1 - exp(-y) = -expm1(-y)`` with ``y``
    the output, which keeps full precision for very negative ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Softplus
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(Softplus().forward(x), 3))
    [[0.127 0.474 0.693 1.701]]
    """

    in_place = True

    def _apply(self, x, out, buffers):
        np.logaddexp(0, x, out=out)

    def _scale_grad(self, grad):
        grad *= -np.expm1(-self._y)


class ELU(Activation):
    """Exponential linear unit, ``x if x > 0 else alpha * (exp(x) - 1)``.

    Parameters
    ----------
    alpha : float, default=1.0
        The output tends to ``-alpha`` for very negative inputs.

    Notes
    -----
    The derivative is 1 where the output is positive and ``y + alpha``
    elsewhere, with ``y`` the output. ``exp`` is only taken of
    ``min(x, 0)``, so large inputs cannot overflow.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import ELU
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(ELU(alpha=1.0).forward(x), 3))
    [[-0.865 -0.393  0.     1.5  ]]
    """

    preferred_init = "he_uniform"

    _parameter_constraints = {"alpha": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def _apply(self, x, out, buffers):
        _elu(x, out, self.alpha, 1.0)

    def _remember(self, x, out):
        self._slope = _elu_slope(self, out, self.alpha, 1.0)

    def _scale_grad(self, grad):
        grad *= self._slope


class SELU(Activation):
    """Scaled ELU with the self-normalising constants of Klambauer et al. (2017).

    Notes
    -----
    ``scale * (x if x > 0 else alpha * (exp(x) - 1))`` with
    ``alpha = 1.6732632423543772`` and ``scale = 1.0507009873554805``; the
    derivative is ``scale`` where the output is positive and
    ``y + scale * alpha`` elsewhere. A preceding ``Dense(init="auto")`` uses
    LeCun normal initialisation, as self-normalisation requires.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import SELU
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(SELU().forward(x), 3))
    [[-1.52  -0.692  0.     1.576]]

    A ``Dense(init="auto")`` before it starts from LeCun normal initialisation,
    which the self-normalising constants assume:

    >>> SELU.preferred_init
    'lecun_normal'
    """

    preferred_init = "lecun_normal"
    _alpha = 1.6732632423543772
    _scale = 1.0507009873554805

    def _apply(self, x, out, buffers):
        _elu(x, out, self._alpha, self._scale)

    def _remember(self, x, out):
        self._slope = _elu_slope(self, out, self._alpha, self._scale)

    def _scale_grad(self, grad):
        grad *= self._slope


def _elu(x, out, alpha, scale):
    """``scale * (x if x > 0 else alpha * expm1(x))`` into ``out``."""
    np.minimum(x, 0, out=out)
    np.expm1(out, out=out)
    out *= alpha
    np.copyto(out, x, where=x > 0)
    if scale != 1.0:
        out *= scale


def _elu_slope(layer, out, alpha, scale):
    """ELU derivative from its output, in the layer's scratch buffer."""
    slope = layer.scratch("_slope_buf", out.shape, out.dtype)
    np.add(out, scale * alpha, out=slope)
    np.copyto(slope, scale, where=out > 0)
    return slope


class GELU(Activation):
    """Gaussian error linear unit, ``x * Phi(x)``, computed exactly with ``erf``.

    Notes
    -----
    :math:`\\Phi` is the standard normal distribution function,
    :math:`\\Phi(x) = (1 + \\mathrm{erf}(x / \\sqrt 2)) / 2`; this is the exact
    form (``scipy.special.erf``), not the tanh approximation. The derivative
    is :math:`\\Phi(x) + x \\varphi(x)` with :math:`\\varphi` the normal
    density.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import GELU
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(GELU().forward(x), 3))
    [[-0.046 -0.154  0.     1.4  ]]
    """

    preferred_init = "he_uniform"

    def _apply(self, x, out, buffers):
        _normal_cdf(x, out)
        out *= x

    def _remember(self, x, out):
        slope = self._slope = self.scratch("_slope_buf", x.shape, x.dtype)
        _normal_cdf(x, slope)
        slope += np.exp(-0.5 * np.square(x)) * (x * (1 / math.sqrt(2 * math.pi)))

    def _scale_grad(self, grad):
        grad *= self._slope


def _normal_cdf(x, out):
    """Standard normal distribution function of ``x`` into ``out``."""
    np.multiply(x, 1 / math.sqrt(2), out=out)
    erf(out, out=out)
    out += 1
    out *= 0.5


def _sigmoid(x, out):
    """Logistic function of ``x`` into ``out``, without overflow."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5


class SiLU(Activation):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Notes
    -----
    With :math:`s = \\sigma(x)` and :math:`y = x s`, the derivative is
    :math:`s (1 + x (1 - s)) = y + s (1 - y)`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import SiLU
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(SiLU().forward(x), 3))
    [[-0.238 -0.189  0.     1.226]]
    """

    preferred_init = "he_uniform"

    def _apply(self, x, out, buffers):
        _sigmoid(x, out)
        out *= x

    def _remember(self, x, out):
        slope = self._slope = self.scratch("_slope_buf", x.shape, x.dtype)
        _sigmoid(x, slope)
        slope *= 1 - out
        slope += out

    def _scale_grad(self, grad):
        grad *= self._slope


class Mish(Activation):
    """Mish, ``x * tanh(softplus(x))`` (Misra, 2019).

    Notes
    -----
    With :math:`t = \\tanh(\\mathrm{softplus}(x))`, the derivative is
    :math:`t + x (1 - t^2) \\sigma(x)`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Mish
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(Mish().forward(x), 3))
    [[-0.253 -0.221  0.     1.403]]
    """

    preferred_init = "he_uniform"

    def _apply(self, x, out, buffers):
        np.logaddexp(0, x, out=out)
        np.tanh(out, out=out)
        out *= x

    def _remember(self, x, out):
        slope = self._slope = self.scratch("_slope_buf", x.shape, x.dtype)
        tanh_softplus = np.tanh(np.logaddexp(0, x))
        _sigmoid(x, slope)
        slope *= x
        slope *= 1 - np.square(tanh_softplus)
        slope += tanh_softplus

    def _scale_grad(self, grad):
        grad *= self._slope


class Softsign(Activation):
    """Softsign, ``x / (1 + |x|)``. The derivative is ``(1 - |y|)**2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Softsign
    >>> x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    >>> print(np.round(Softsign().forward(x), 3))
    [[-0.667 -0.333  0.     0.6  ]]
    """

    def _apply(self, x, out, buffers):
        np.abs(x, out=out)
        out += 1
        np.divide(x, out, out=out)

    def _scale_grad(self, grad):
        grad *= np.square(1 - np.abs(self._y))


#: Activation names accepted wherever a layer is expected, and their layers.
#: ``"logistic"`` is MLPRegressor's name for the sigmoid; with ``"identity"``,
#: ``"tanh"`` and ``"relu"`` it makes every ``activation`` of MLP a valid name.
ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "identity": Identity,
    "softplus": Softplus,
    "elu": ELU,
    "selu": SELU,
    "gelu": GELU,
    "silu": SiLU,
    "mish": Mish,
    "softsign": Softsign,
}


def get_activation(name, where="layers"):
    """Return a new activation layer for a name in :data:`ACTIVATIONS`.

    Parameters
    ----------
    name : str
        A registered name, such as ``"relu"`` or ``"tanh"``.
    where : str, default="layers"
        How to name the setting in the error, e.g. ``"layers[1]"``.

    Returns
    -------
    layer : Layer
        The activation with its default settings, e.g. ``ReLU()``.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.

    Examples
    --------
    >>> from sknnlite.activations import get_activation
    >>> get_activation("leaky_relu")
    LeakyReLU()
    """
    kind = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ValueError(
            f"{where} is {name!r}, which is not an activation name. Use one of "
            f"{sorted(ACTIVATIONS)}, or a layer object such as ReLU() or "
            "LeakyReLU(negative_slope=0.1)."
        )
    return kind()
