"""Loss functions as objects with a value and a gradient.

A loss compares targets ``y`` with network outputs ``y_pred`` (both of shape
``(n_samples, n_outputs)``) and reduces to one number: the weighted mean
over samples of the per-sample loss. The regression losses average a sample's
loss over its outputs; the classification losses (cross-entropies) sum it
over classes or labels, as a log-likelihood does. Sample weights are
normalised by their sum, so integer weights equal repeated rows and zero
weights equal dropped rows.

A loss also tells the regressor how to treat targets: whether it may train
on a standardised target (:attr:`Loss.standardize_target`), which targets
are valid (:meth:`Loss.check_target`) and how a network output becomes a
prediction (:meth:`Loss.inverse_link`).
"""

from numbers import Real

import numpy as np
from scipy.special import expit, xlogy
from sklearn.utils._param_validation import Interval

from ._config import Configurable

__all__ = [
    "Loss",
    "SquaredError",
    "AbsoluteError",
    "Huber",
    "Poisson",
    "LOSSES",
    "get_loss",
]


class Loss(Configurable):
    """Base class: subclasses implement :meth:`value_and_gradient`.

    Attributes
    ----------
    standardize_target : bool
        Whether ``NNRegressor`` may train on the target standardised to mean
        0 and standard deviation 1 (and undo it in ``predict``). True for
        losses of the residual ``y_pred - y`` (squared, absolute, Huber);
        False where the scale of ``y`` matters (Poisson counts).

    Examples
    --------
    A log-cosh loss, smooth and robust to outliers; ``check_loss_gradient``
    compares its gradient with finite differences:

    >>> import numpy as np
    >>> from sknnlite import Loss, NNRegressor
    >>> from sknnlite.testing import check_loss_gradient
    >>> class LogCosh(Loss):
    ...     # Mean of log(cosh(y_pred - y)).
    ...     def value_and_gradient(self, y, y_pred, sample_weight=None):
    ...         residual = y_pred - y
    ...         weight = np.ones(len(y)) if sample_weight is None else sample_weight
    ...         scale = 1.0 / (weight.sum() * y.shape[1])
    ...         per_sample = (np.logaddexp(residual, -residual) - np.log(2)).sum(axis=1)
    ...         gradient = np.tanh(residual) * weight[:, None] * scale
    ...         return float(weight @ per_sample) * scale, gradient
    >>> rng = np.random.default_rng(0)
    >>> report = check_loss_gradient(LogCosh(), rng.normal(size=(5, 2)),
    ...                              rng.normal(size=(5, 2)))
    >>> report.ok
    True
    >>> NNRegressor(loss=LogCosh())
    NNRegressor(loss=LogCosh())
    """

    standardize_target = True

    def check_target(self, y):
        """Raise ``ValueError`` if ``y`` holds values this loss cannot fit."""

    def inverse_link(self, raw):
        """Map network outputs to predictions (the identity by default)."""
        return raw

    def intercept_only(self, y, sample_weight=None):
        """Network output of a model that ignores its input: one constant per column.

        Training uses it as a yardstick: a fitted network whose loss is above
        the loss of this constant learned less than nothing (see
        :mod:`sknnlite.training`). The default, the weighted mean of ``y``,
        minimises the squared error; other losses may return their own
        minimiser, and any constant keeps the comparison valid.

        Parameters
        ----------
        y : ndarray of shape (n_samples, n_outputs)
            Targets.
        sample_weight : ndarray of shape (n_samples,) or None
            Weights.

        Returns
        -------
        output : ndarray of shape (n_outputs,)
        """
        return np.average(y, axis=0, weights=sample_weight)

    def value(self, y, y_pred, sample_weight=None):
        """Return the loss as a Python float."""
        return self.value_and_gradient(y, y_pred, sample_weight)[0]

    def gradient(self, y, y_pred, sample_weight=None):
        """Return ``d loss / d y_pred``, shape ``(n_samples, n_outputs)``."""
        return self.value_and_gradient(y, y_pred, sample_weight)[1]

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        """Return the loss and its gradient with respect to ``y_pred``.

        Parameters
        ----------
        y : ndarray of shape (n_samples, n_outputs)
            Targets.
        y_pred : ndarray of shape (n_samples, n_outputs)
            Network outputs.
        sample_weight : ndarray of shape (n_samples,) or None
            Non-negative weights; ``None`` weighs every sample 1.

        Returns
        -------
        value : float
        gradient : ndarray of shape (n_samples, n_outputs)
        """
        raise NotImplementedError


def _normaliser(y_pred, sample_weight):
    """Total weight times the number of outputs, in the data's dtype."""
    total = y_pred.shape[0] if sample_weight is None else sample_weight.sum()
    return y_pred.dtype.type(total * y_pred.shape[1])


def _weighted_mean(per_element, gradient, sample_weight):
    """Weighted mean of ``per_element`` and the matching gradient (in place)."""
    scale = 1 / _normaliser(gradient, sample_weight)
    if sample_weight is not None:
        per_element *= sample_weight[:, None]
        gradient *= sample_weight[:, None]
    gradient *= scale
    return float(per_element.sum()) * float(scale), gradient


class SquaredError(Loss):
    """Half the mean squared error.

    Notes
    -----
    .. math:: L = \\frac{1}{2 W m} \\sum_i w_i \\sum_j (\\hat y_{ij} - y_{ij})^2

    with :math:`W = \\sum_i w_i` and :math:`m` outputs; the gradient is
    :math:`w_i (\\hat y_{ij} - y_{ij}) / (W m)`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import SquaredError
    >>> y, y_pred = np.array([[1.0], [2.0]]), np.array([[1.5], [2.0]])
    >>> value, gradient = SquaredError().value_and_gradient(y, y_pred)
    >>> value
    0.0625
    >>> gradient
    array([[0.25],
           [0.  ]])
    """

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        scale = 1 / _normaliser(y_pred, sample_weight)
        weighted = (
            residual if sample_weight is None else (residual * sample_weight[:, None])
        )
        value = 0.5 * float(np.vdot(weighted, residual)) * float(scale)
        weighted *= scale
        return value, weighted


class AbsoluteError(Loss):
    """Mean absolute error.

    Notes
    -----
    .. math:: L = \\frac{1}{W m} \\sum_i w_i \\sum_j |\\hat y_{ij} - y_{ij}|

    with gradient :math:`w_i \\operatorname{sign}(\\hat y_{ij} - y_{ij}) / (W m)`
    (0 where the residual is 0). Its minimiser is the (weighted) median,
    so it is robust to outliers in ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import AbsoluteError, NNRegressor
    >>> y, y_pred = np.array([[1.0], [2.0]]), np.array([[1.5], [2.0]])
    >>> AbsoluteError().value(y, y_pred)
    0.25
    >>> NNRegressor(loss="absolute_error")  # the same loss, by name
    NNRegressor(loss='absolute_error')
    """

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        return _weighted_mean(np.abs(residual), np.sign(residual), sample_weight)


class Huber(Loss):
    """Huber loss: squared for small residuals, absolute for large ones.

    Parameters
    ----------
    delta : float, default=1.0
        Residual size where the loss turns from quadratic to linear. With
        ``NNRegressor`` the target is standardised, so ``delta`` is in
        standard deviations of ``y``.

    Notes
    -----
    With :math:`r = \\hat y - y`,

    .. math::
        h(r) = \\begin{cases} r^2 / 2 & |r| \\le \\delta \\\\
        \\delta (|r| - \\delta / 2) & |r| > \\delta \\end{cases}, \\qquad
        L = \\frac{1}{W m} \\sum_i w_i \\sum_j h(r_{ij})

    and :math:`h'(r) = \\operatorname{clip}(r, -\\delta, \\delta)`. It equals
    :class:`SquaredError` when every residual is within ``delta``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Huber, NNRegressor
    >>> y, y_pred = np.array([[0.0], [0.0]]), np.array([[0.5], [3.0]])
    >>> Huber(delta=1.0).value(y, y_pred)  # (0.5**2 / 2 + 1 * (3 - 0.5)) / 2
    1.3125
    >>> NNRegressor(loss=Huber(delta=0.5)).set_params(loss__delta=0.1).loss
    Huber(0.1)
    """

    _parameter_constraints = {"delta": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, delta=1.0):
        self.delta = delta

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        delta = y_pred.dtype.type(self.delta)
        gradient = np.clip(residual, -delta, delta)
        # h(r) = clip(r) * (|r| - |clip(r)| / 2) covers both branches.
        per_element = np.abs(residual)
        per_element -= 0.5 * np.abs(gradient)
        per_element *= np.abs(gradient)
        return _weighted_mean(per_element, gradient, sample_weight)


class Poisson(Loss):
    """Half Poisson deviance with a log link, for counts and rates.

    The network output is the log of the predicted mean, so predictions
    ``exp(output)`` are always positive. Targets must be non-negative; they
    are not standardised.

    Notes
    -----
    With :math:`\\eta = \\hat y` the output and :math:`\\mu = e^\\eta`,

    .. math::
        L = \\frac{1}{W m} \\sum_i w_i \\sum_j
        \\big(y_{ij} \\log y_{ij} - y_{ij} \\eta_{ij} - y_{ij} + e^{\\eta_{ij}}\\big)

    (with :math:`0 \\log 0 = 0`), half the mean Poisson deviance of
    ``sklearn.metrics.mean_poisson_deviance``; the gradient is
    :math:`w_i (e^{\\eta_{ij}} - y_{ij}) / (W m)`.

    Examples
    --------
    Counts with a log link: predictions are always positive.

    >>> import numpy as np
    >>> from sknnlite import Dense, NNRegressor, ReLU
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> y = rng.poisson(np.exp(0.5 * X[:, 0]))
    >>> model = NNRegressor([Dense(8), ReLU(), Dense()], loss="poisson",
    ...                     learning_rate=0.01, tol=1e-3, random_state=0).fit(X, y)
    >>> bool((model.predict(X) > 0).all()), model.target_scale_
    (True, array([1.]))
    """

    standardize_target = False

    def check_target(self, y):
        if np.any(np.asarray(y) < 0):
            raise ValueError(
                "loss='poisson' needs non-negative targets (counts or rates), "
                f"but y has values down to {np.min(y)}. Use another loss, such "
                "as 'squared_error' or 'huber', for targets that can be negative."
            )

    def inverse_link(self, raw):
        return np.exp(raw, out=raw)

    def intercept_only(self, y, sample_weight=None):
        mean = np.average(y, axis=0, weights=sample_weight)
        return np.log(np.maximum(mean, np.finfo(np.float64).tiny))

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        mean = np.exp(y_pred)
        per_element = xlogy(y, y) - y * y_pred - y + mean
        gradient = mean
        gradient -= y
        return _weighted_mean(per_element, gradient, sample_weight)


LOSSES = {
    "squared_error": SquaredError,
    "absolute_error": AbsoluteError,
    "huber": Huber,
    "poisson": Poisson,
}


def get_loss(loss):
    """Return a loss object for a name in :data:`LOSSES` or a :class:`Loss`.

    Examples
    --------
    >>> from sknnlite import Huber
    >>> from sknnlite.losses import get_loss
    >>> get_loss("huber")
    Huber()
    >>> get_loss(Huber(delta=0.5))
    Huber(0.5)
    """
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    if hasattr(loss, "value_and_gradient"):
        return loss
    raise ValueError(
        f"loss={loss!r} is not a known loss. Use one of {sorted(LOSSES)} or an "
        "object with a value_and_gradient(y, y_pred, sample_weight) method."
    )


# ------------------------------------------------------- classification losses
# Both take logits (raw network outputs) and fuse the output non-linearity
# into the loss: the value is computed with log-sum-exp so that no
# probability is ever rounded to 0 or 1 before a log, and the gradient
# ``probability - target`` has no division by a probability. Unlike the
# regression losses, the per-sample loss is summed over the output columns
# (the usual log-likelihood, as in scikit-learn's log_loss).

__all__ += ["SoftmaxCrossEntropy", "SigmoidCrossEntropy"]


def _weighted_sample_mean(per_sample, gradient, sample_weight):
    """Weighted mean of ``per_sample``; scales ``gradient`` rows to match, in place."""
    if sample_weight is None:
        total = per_sample.shape[0]
        value = float(per_sample.sum(dtype=np.float64)) / total
        gradient *= gradient.dtype.type(1 / total)
    else:
        total = float(sample_weight.sum(dtype=np.float64))
        value = float(np.dot(sample_weight, per_sample)) / total
        gradient *= (sample_weight / gradient.dtype.type(total))[:, None]
    return value, gradient


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of the softmax of logits, for one-of-K (multiclass) targets.

    ``y`` holds one row per sample that sums to 1: one-hot class indicators
    (or class probabilities); ``y_pred`` holds the logits.

    Notes
    -----
    With logits :math:`z_i`, :math:`\\log p_{ik} = z_{ik} - \\log\\sum_l
    e^{z_{il}}`, computed after subtracting :math:`\\max_l z_{il}` so that no
    exponential overflows (log-sum-exp), and

    .. math:: L = \\frac{1}{W} \\sum_i w_i \\Big(-\\sum_k y_{ik} \\log p_{ik}\\Big),
              \\qquad W = \\sum_i w_i.

    The softmax and the log cancel in the derivative, which for rows of
    ``y`` summing to 1 is :math:`w_i (p_{ik} - y_{ik}) / W`. The per-sample
    loss is summed, not averaged, over the K classes, as in
    ``sklearn.metrics.log_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import SoftmaxCrossEntropy
    >>> y = np.array([[1.0, 0.0, 0.0]])  # one-hot: class 0
    >>> logits = np.array([[2.0, 0.0, 0.0]])
    >>> value, gradient = SoftmaxCrossEntropy().value_and_gradient(y, logits)
    >>> round(value, 4), np.round(gradient, 4)
    (0.2395, array([[-0.213 ,  0.1065,  0.1065]]))
    """

    def intercept_only(self, y, sample_weight=None):
        share = np.average(y, axis=0, weights=sample_weight)
        return np.log(np.clip(share, 1e-12, None))

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        log_proba = log_softmax(y_pred)
        per_sample = -np.einsum("ij,ij->i", y, log_proba)
        gradient = np.exp(log_proba, out=log_proba)
        gradient -= y
        return _weighted_sample_mean(per_sample, gradient, sample_weight)


class SigmoidCrossEntropy(Loss):
    """Binary cross-entropy of the sigmoid of logits, one per output column.

    For binary targets (one column of 0/1) and multilabel targets (an
    indicator matrix): each column is an independent yes/no question.

    Notes
    -----
    With :math:`p = \\sigma(z) = 1 / (1 + e^{-z})`, the cross-entropy of one
    output is :math:`-y \\log p - (1 - y) \\log(1 - p) = \\log(1 + e^{z}) -
    y z`, computed as ``logaddexp(0, z) - y * z``, finite for any finite
    :math:`z`. Summed over the m outputs and averaged over samples:

    .. math:: L = \\frac{1}{W} \\sum_i w_i \\sum_j \\big(\\log(1 + e^{z_{ij}})
              - y_{ij} z_{ij}\\big), \\qquad W = \\sum_i w_i,

    whose derivative is :math:`w_i (\\sigma(z_{ij}) - y_{ij}) / W`. Summing
    over outputs matches ``MLPClassifier``'s multilabel loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import SigmoidCrossEntropy
    >>> y = np.array([[1.0, 0.0]])  # two labels: yes, no
    >>> logits = np.array([[0.0, 0.0]])
    >>> round(SigmoidCrossEntropy().value(y, logits), 4)  # 2 * log(2)
    1.3863
    """

    def intercept_only(self, y, sample_weight=None):
        share = np.clip(np.average(y, axis=0, weights=sample_weight), 1e-12, 1 - 1e-12)
        return np.log(share) - np.log1p(-share)

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        per_output = np.logaddexp(0, y_pred)
        per_output -= y * y_pred
        per_sample = per_output.sum(axis=1)
        gradient = expit(y_pred)
        gradient -= y
        return _weighted_sample_mean(per_sample, gradient, sample_weight)


def log_softmax(z):
    """Row-wise ``log(softmax(z))`` of a 2-D array, stable for any finite ``z``."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    shifted -= log_total
    return shifted


def log_sigmoid(z):
    """Elementwise ``log(sigmoid(z)) = -logaddexp(0, -z)``, stable for any ``z``."""
    return -np.logaddexp(0, -z)
