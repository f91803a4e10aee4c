"""Loss functions as objects with a value and a gradient.

A loss compares targets ``y`` with network outputs ``y_pred`` (both of shape
``(n_samples, n_outputs)``) and reduces to one number: the weighted mean
over samples of the per-sample loss. The regression losses average a sample's
loss over its outputs; the classification losses (cross-entropies) sum it
over classes or labels, as a log-likelihood does. Sample weights are
normalised by their sum, so integer weights equal repeated rows and zero
weights equal dropped rows.

A loss also tells the regressor how to treat targets: the center and scale
it trains on ``(y - center) / scale`` with (:meth:`Loss.target_scaling`;
:func:`mean_std` for the squared error, the robust :func:`median_iqr` for the
absolute, Huber and quantile losses, none for Poisson and gamma), which
targets are valid (:meth:`Loss.check_target`) and how a network output
becomes a prediction (:meth:`Loss.inverse_link`).
"""

from numbers import Real

import numpy as np
from scipy.special import expit, xlogy
from sklearn.utils._param_validation import Interval, InvalidParameterError

from ._config import Configurable

__all__ = [
    "Loss",
    "mean_std",
    "median_iqr",
    "no_scaling",
    "SquaredError",
    "AbsoluteError",
    "Huber",
    "Poisson",
    "Gamma",
    "Quantile",
    "LOSSES",
    "get_loss",
]


class Loss(Configurable):
    """Base class: subclasses implement :meth:`value_and_gradient`.

    A subclass may also override :meth:`target_scaling` (how ``NNRegressor``
    scales the target before training), :meth:`check_target` and
    :meth:`inverse_link`, and set ``robust``.

    Attributes
    ----------
    robust : bool
        Whether the loss is meant to resist outliers in ``y`` (absolute
        error, Huber, quantiles). ``NNRegressor`` then judges early stopping
        by the negative validation loss, as ``HistGradientBoostingRegressor``
        does with ``scoring="loss"``: one outlier among the held-out rows
        dominates R² (or D²), whose changes then fall below ``tol``, so
        training stopped after ``n_iter_no_change`` epochs whatever it
        learned. False by default.
    prediction_noun : str
        What the fitted network's outputs are, for messages:
        ``"predictions"``; ``"predicted probabilities"`` for the
        cross-entropies, whose verdict "worse than a constant" is about
        the probabilities (an overconfident classifier can have a huge log
        loss and a good accuracy).

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

    robust = False
    prediction_noun = "predictions"

    def target_scaling(self, y, sample_weight=None):
        """Center and scale of the targets that ``NNRegressor`` trains on.

        The network learns ``(y - center) / scale`` and ``predict`` undoes it,
        so that training behaves the same whatever the units of ``y``. The
        statistics should match what the loss is sensitive to: the default
        is :func:`mean_std`, right for the squared error; a robust loss
        should use robust statistics (:func:`median_iqr`), or one outlier
        sets the scale; a loss for which the units of ``y`` matter (Poisson
        counts) returns :func:`no_scaling`.

        Parameters
        ----------
        y : ndarray of shape (n_samples, n_outputs)
            Training targets.
        sample_weight : ndarray of shape (n_samples,) or None
            Non-negative weights; ``None`` weighs every sample 1.

        Returns
        -------
        center : ndarray of shape (n_outputs,)
        scale : ndarray of shape (n_outputs,)
            Positive and finite.
        """
        if getattr(self, "standardize_target", True) is False:
            raise TypeError(
                f"{type(self).__name__}.standardize_target = False was removed in "
                "sknnlite 0.3 (deprecated since 0.2); override target_scaling to "
                "return sknnlite.losses.no_scaling(y) instead."
            )
        return mean_std(y, sample_weight)

    def n_outputs(self, n_targets):
        """Number of network outputs for ``n_targets`` target columns.

        One per target by default; :class:`Quantile` asks for one per
        quantile and target.
        """
        return n_targets

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

    def _unweighted(self, n_rows, n_outputs, dtype):
        """``value_and_gradient(y, y_pred)`` without weights, for ``n_rows`` rows.

        The training loop calls it at every step of that batch size. A
        built-in loss may resolve its buffers and constants once; it must
        compute exactly what :meth:`value_and_gradient` computes.
        """
        value_and_gradient = self.value_and_gradient
        return lambda y, y_pred: value_and_gradient(y, y_pred, None)


def mean_std(y, sample_weight=None):
    """Per-column weighted mean and standard deviation (1 where constant).

    Computed on ``y`` divided by its largest magnitude, so that values near
    the float64 limit (1e200) do not overflow when squared.

    Parameters
    ----------
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    mean, std : ndarray of shape (n_outputs,)

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite.losses import mean_std
    >>> mean_std(np.array([[1.0], [3.0]]))
    (array([2.]), array([1.]))
    """
    y = np.asarray(y, dtype=np.float64)
    magnitude = np.max(np.abs(y), axis=0)
    magnitude[~(magnitude > 0)] = 1.0
    unit = y / magnitude
    mean = np.average(unit, axis=0, weights=sample_weight)
    std = np.sqrt(np.average((unit - mean) ** 2, axis=0, weights=sample_weight))
    scale = std * magnitude
    scale[~(std > 1e-12)] = 1.0  # constant column
    return mean * magnitude, scale


#: The interquartile range of a normal distribution, in standard deviations
#: (``2 * scipy.stats.norm.ppf(0.75)``).
NORMAL_IQR = 1.3489795003921634

#: Fewer rows (of positive weight) than this, and an empirical quartile is
#: the smallest or largest value (4 rows: the first quartile is the
#: smallest), which one outlier sets; :func:`median_iqr` then uses its
#: fallback, whose median of the deviations ignores one outlier among 3 or 4.
IQR_MIN_ROWS = 5

#: ``1 / scipy.stats.norm.ppf(0.75)``: a median absolute deviation times this
#: is the standard deviation for normally distributed data.
NORMAL_MAD = 1.482602218505602


def median_iqr(y, sample_weight=None):
    """Per-column weighted median and interquartile range / 1.349.

    A robust center and scale: unlike the mean and standard deviation, a few
    outliers hardly move them. Dividing the interquartile range by 1.349
    makes it the standard deviation for normally distributed ``y`` (as in
    ``RobustScaler(unit_variance=True)``). Where the quartiles are equal
    (a zero-inflated target: three quarters of the values are the same) the
    range is 0; the scale is then the median absolute deviation from the
    median of the values that differ from it, times 1.4826 (which makes a
    median absolute deviation the standard deviation for normal data;
    Rousseeuw & Croux, JASA 88, 1993), so it is the spread of the values
    that vary and, like the range, a few outliers hardly move it. With
    fewer than 5 rows (:data:`IQR_MIN_ROWS`; a ``partial_fit`` stream's first
    call can be that small) the quartiles are extreme values, so the
    fallback is used for every column. A constant column gets 1.

    Parameters
    ----------
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    median, scale : ndarray of shape (n_outputs,)

    Notes
    -----
    Quantiles use the inverted empirical distribution function (NumPy's
    ``method="inverted_cdf"``, which takes sample weights), so an integer
    weight is the same as repeating the row.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite.losses import median_iqr
    >>> center, scale = median_iqr(np.array([[1.0], [2.0], [3.0], [4.0], [1000.0]]))
    >>> center, np.round(scale, 3)  # the outlier hardly moves them
    (array([3.]), array([1.483]))
    """
    y = np.asarray(y, dtype=np.float64)
    q1, median, q3 = _weighted_quantiles(y, [0.25, 0.5, 0.75], sample_weight)
    scale = (q3 - q1) / NORMAL_IQR
    rows = len(y) if sample_weight is None else np.count_nonzero(sample_weight)
    if rows < IQR_MIN_ROWS:
        scale[:] = 0.0  # the quartiles are extreme values: use the fallback
    for column in np.flatnonzero(~(scale > 0)):
        scale[column] = _spread_of_the_varying(
            y[:, column], median[column], sample_weight
        )
    return median, scale


def _spread_of_the_varying(column, median, sample_weight):
    """Median absolute deviation of the values that differ from the median.

    Times :data:`NORMAL_MAD`; 1 when no value (of positive weight) differs.
    """
    deviation = np.abs(column - median)
    varying = deviation > 0
    if sample_weight is not None:
        varying &= sample_weight > 0
    if not np.any(varying):
        return 1.0  # constant column
    weight = None if sample_weight is None else sample_weight[varying]
    (typical,) = _weighted_quantiles(deviation[varying, None], [0.5], weight)[0]
    return NORMAL_MAD * typical


def _weighted_quantiles(y, quantiles, sample_weight):
    """Per-column quantiles of ``y``, shape ``(len(quantiles), n_outputs)``."""
    if sample_weight is None:
        return np.quantile(y, quantiles, axis=0, method="inverted_cdf")
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        return np.quantile(
            y, quantiles, axis=0, weights=sample_weight, method="inverted_cdf"
        )
    return _weighted_quantiles_numpy1(y, quantiles, sample_weight)


def _weighted_quantiles_numpy1(y, quantiles, sample_weight):
    """NumPy < 2 has no weighted quantile: scikit-learn's (inverted CDF too)."""
    from sklearn.utils.stats import _weighted_percentile

    percentiles = [_weighted_percentile(y, sample_weight, 100 * q) for q in quantiles]
    return np.stack(percentiles)


def no_scaling(y, sample_weight=None):
    """Center 0 and scale 1 for every column: train on ``y`` as it is.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite.losses import no_scaling
    >>> no_scaling(np.array([[1.0, 5.0], [3.0, 9.0]]))
    (array([0., 0.]), array([1., 1.]))
    """
    n_outputs = np.shape(y)[1]
    return np.zeros(n_outputs), np.ones(n_outputs)


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

    def _unweighted(self, n_rows, n_outputs, dtype):
        if type(self) is not SquaredError:  # a subclass may compute otherwise
            return super()._unweighted(n_rows, n_outputs, dtype)
        residual = np.empty((n_rows, n_outputs), dtype=dtype)
        scale = 1 / np.dtype(dtype).type(n_rows * n_outputs)  # as _normaliser
        value_scale = float(scale)

        def value_and_gradient(y, y_pred):
            np.subtract(y_pred, y, out=residual)
            value = 0.5 * float(np.vdot(residual, residual)) * value_scale
            np.multiply(residual, scale, out=residual)
            return value, residual

        return value_and_gradient


class AbsoluteError(Loss):
    """Mean absolute error.

    Notes
    -----
    .. math:: L = \\frac{1}{W m} \\sum_i w_i \\sum_j |\\hat y_{ij} - y_{ij}|

    with gradient :math:`w_i \\operatorname{sign}(\\hat y_{ij} - y_{ij}) / (W m)`
    (0 where the residual is 0). Its minimiser is the (weighted) median,
    so it is robust to outliers in ``y``; for the same reason ``NNRegressor``
    scales the target by its median and interquartile range
    (:func:`median_iqr`), not by its mean and standard deviation.

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

    robust = True

    def target_scaling(self, y, sample_weight=None):
        return median_iqr(y, sample_weight)

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        return _weighted_mean(np.abs(residual), np.sign(residual), sample_weight)


class Huber(Loss):
    """Huber loss over ``delta``: quadratic for small residuals, absolute beyond.

    Parameters
    ----------
    delta : float, default=0.1
        Residual size where the loss turns from quadratic to linear. With
        ``NNRegressor`` the target is scaled by :func:`median_iqr`, so
        ``delta`` is in units of the interquartile range of ``y`` divided by
        1.349 (the standard deviation, for normal data without outliers).
        The default was chosen by measurement (``benchmarks/robust_losses.py
        --huber``): 0.1 was as accurate as 1 without outliers and stayed
        robust with them, where ``delta=1`` let a 64-64 network chase 1 %
        of targets at 1e6 (R² on the other rows -420) or Cauchy noise.

    Notes
    -----
    With :math:`r = \\hat y - y`,

    .. math::
        h(r) = \\begin{cases} r^2 / (2 \\delta) & |r| \\le \\delta \\\\
        |r| - \\delta / 2 & |r| > \\delta \\end{cases}, \\qquad
        L = \\frac{1}{W m} \\sum_i w_i \\sum_j h(r_{ij})

    and :math:`h'(r) = \\operatorname{clip}(r / \\delta, -1, 1)`: Huber's loss
    (Huber, Ann. Math. Statist. 35, 1964) divided by ``delta``, as PyTorch's
    ``SmoothL1Loss(beta=delta)``, so that far residuals pull with slope 1
    like :class:`AbsoluteError` whatever ``delta`` (the step an SGD update
    takes does not shrink with it). It is :class:`SquaredError` divided by
    ``delta`` when every residual is within ``delta``. Being robust, it
    scales the target by :func:`median_iqr`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Huber, NNRegressor
    >>> y, y_pred = np.array([[0.0], [0.0]]), np.array([[0.5], [3.0]])
    >>> Huber(delta=1.0).value(y, y_pred)  # (0.5**2 / 2 + (3 - 0.5)) / 2
    1.3125
    >>> Huber(delta=0.5).value(y, y_pred)  # (0.5**2 / 1 + (3 - 0.25)) / 2
    1.5
    >>> NNRegressor(loss=Huber(delta=0.5)).set_params(loss__delta=0.2).loss
    Huber(0.2)
    """

    robust = True

    _parameter_constraints = {"delta": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, delta=0.1):
        self.delta = delta

    def target_scaling(self, y, sample_weight=None):
        return median_iqr(y, sample_weight)

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        delta = y_pred.dtype.type(self.delta)
        gradient = np.clip(residual, -delta, delta)
        # delta * h(r) = clip(r) * (|r| - |clip(r)| / 2) covers both branches.
        per_element = np.abs(residual)
        per_element -= 0.5 * np.abs(gradient)
        per_element *= np.abs(gradient)
        per_element /= delta
        gradient /= delta
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

    def target_scaling(self, y, sample_weight=None):
        return no_scaling(y)

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


class Gamma(Loss):
    """Half gamma deviance with a log link, for positive, right-skewed targets.

    For amounts whose spread grows with their size (claim sizes, durations,
    prices): the gamma deviance weighs relative errors, so a miss of 10 on a
    target of 100 counts as much as a miss of 1 on a target of 10. The
    network output is the log of the predicted mean, so predictions
    ``exp(output)`` are always positive. Targets must be strictly positive;
    they are not standardised.

    Notes
    -----
    With :math:`\\eta = \\hat y` the output and :math:`\\mu = e^\\eta`,

    .. math::
        L = \\frac{1}{W m} \\sum_i w_i \\sum_j
        \\big(\\eta_{ij} - \\log y_{ij} + y_{ij} e^{-\\eta_{ij}} - 1\\big),

    half the mean gamma deviance of ``sklearn.metrics.mean_gamma_deviance``
    (scikit-learn's ``HalfGammaLoss`` without the constant terms); the
    gradient is :math:`w_i (1 - y_{ij} e^{-\\eta_{ij}}) / (W m)`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Gamma, NNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = rng.gamma(2.0, np.exp(0.5 * X[:, 0]))  # positive, right-skewed
    >>> model = NNRegressor(loss="gamma", learning_rate=0.01, tol=1e-3,
    ...                     random_state=0).fit(X, y)
    >>> bool((model.predict(X) > 0).all())  # exp of the network output
    True
    """

    def target_scaling(self, y, sample_weight=None):
        # The deviance is scale-free only for the mean's scale, not a shift:
        # no scaling, like Poisson.
        return no_scaling(y, sample_weight)

    def check_target(self, y):
        if not np.all(np.asarray(y) > 0):
            raise ValueError(
                "loss='gamma' needs strictly positive targets (amounts, "
                f"durations), but y has values down to {np.min(y)}. Use "
                "loss='poisson' for counts that can be 0, or 'squared_error' "
                "or 'huber' for targets that can be negative."
            )

    def inverse_link(self, raw):
        return np.exp(raw, out=raw)

    def onnx_inverse_link(self, graph, x):
        """``exp`` of the network output, as an ONNX node."""
        return graph.node("Exp", [x])

    def intercept_only(self, y, sample_weight=None):
        return np.log(np.average(y, axis=0, weights=sample_weight))

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        ratio = y * np.exp(-y_pred)  # y / mu
        per_element = y_pred - np.log(y) + ratio - 1
        gradient = np.subtract(1, ratio, out=ratio)
        return _weighted_mean(per_element, gradient, sample_weight)


class Quantile(Loss):
    """Pinball loss: one network output per quantile and target.

    Trains a network to predict the given conditional quantiles of ``y``
    (Koenker and Bassett, "Regression Quantiles", Econometrica 1978), for
    instance ``quantiles=(0.05, 0.5, 0.95)``: the median and the bounds of a
    90 % prediction interval. ``NNRegressor.predict`` then returns one
    column per quantile and ``NNRegressor.predict_interval`` the outermost
    two.

    Parameters
    ----------
    quantiles : float or sequence of float, default=(0.05, 0.5, 0.95)
        Strictly increasing probabilities in (0, 1).

    Notes
    -----
    With :math:`\\tau_k` the quantiles, :math:`q_{ijk}` the output for
    target :math:`j` and quantile :math:`k` (column :math:`jK + k`) and
    :math:`r = y_{ij} - q_{ijk}`,

    .. math::
        L = \\frac{1}{W m K} \\sum_i w_i \\sum_{j,k} \\rho_{\\tau_k}(r), \\qquad
        \\rho_\\tau(r) = \\max(\\tau r, (\\tau - 1) r),

    with gradient :math:`-\\tau_k` where :math:`r > 0` and :math:`1 - \\tau_k`
    where :math:`r \\le 0` (times :math:`w_i / (W m K)`). With ``quantiles=0.5``
    it is half the absolute error.

    Predicted quantiles never cross: :meth:`inverse_link` sorts each
    target's outputs, the monotone rearrangement of Chernozhukov,
    Fernández-Val and Galichon ("Quantile and Probability Curves Without
    Crossing", Econometrica 2010), which never moves an estimate further
    from the true quantiles. Training is not changed by it.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import NNRegressor, Quantile
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(500, 1))
    >>> y = X[:, 0] + rng.normal(size=500)
    >>> model = NNRegressor(loss=Quantile([0.1, 0.5, 0.9]), learning_rate=0.01,
    ...                     tol=1e-3, random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape  # one column per quantile, never crossing
    (2, 3)
    >>> lower, upper = model.predict_interval(X[:2])
    >>> bool((lower <= upper).all())
    True
    """

    robust = True

    _parameter_constraints = {
        "quantiles": [Interval(Real, 0, 1, closed="neither"), "array-like"]
    }

    def target_scaling(self, y, sample_weight=None):
        # Quantiles are equivariant under y -> center + scale * y with
        # scale > 0, so any such map keeps them meaningful; the pinball loss
        # is robust, so the statistics must be too: with the mean and
        # standard deviation one outlier (y = 1e6 among values of 0-30)
        # squeezed the other targets into 1e-4 of a unit (median R² -2674).
        return median_iqr(y, sample_weight)

    def __init__(self, quantiles=(0.05, 0.5, 0.95)):
        self.quantiles = quantiles

    def validate_params(self, owner=None):
        super().validate_params(owner)
        levels = np.asarray(self.quantiles, dtype=float).ravel()
        if levels.size == 0 or not (
            np.all((levels > 0) & (levels < 1)) and np.all(np.diff(levels) > 0)
        ):
            raise InvalidParameterError(
                f"The 'quantiles' parameter of {owner or 'Quantile'} must be "
                "strictly increasing probabilities in (0, 1), such as "
                f"(0.05, 0.5, 0.95); got {self.quantiles!r}."
            )

    @property
    def levels(self):
        """The quantiles as a 1-D array."""
        return np.asarray(self.quantiles, dtype=float).ravel()

    def n_outputs(self, n_targets):
        return n_targets * self.levels.size

    def inverse_link(self, raw):
        """Sort each target's quantile outputs (in place) so that they never cross."""
        n_levels = self.levels.size
        grouped = raw.reshape(raw.shape[0], -1, n_levels)
        grouped.sort(axis=2)
        return raw

    def onnx_inverse_link(self, graph, x):
        """Each target's outputs sorted with ``TopK`` (ascending), as ONNX nodes."""
        n_levels = self.levels.size
        grouped = graph.node("Reshape", [x, graph.constant([0, -1, n_levels])])
        values, _ = graph.node(
            "TopK",
            [grouped, graph.constant([n_levels])],
            n_outputs=2,
            axis=2,
            largest=0,
        )
        return graph.node("Reshape", [values, graph.constant([0, -1])])

    def intercept_only(self, y, sample_weight=None):
        constant = _weighted_quantiles(y, self.levels, sample_weight)
        return constant.T.ravel()  # target-major, as the outputs

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        levels = self.levels.astype(y_pred.dtype)
        tau = np.tile(levels, y.shape[1])
        residual = np.repeat(y, levels.size, axis=1)
        residual -= y_pred
        above = residual > 0
        per_element = residual * np.where(above, tau, tau - 1)
        gradient = np.where(above, -tau, 1 - tau).astype(y_pred.dtype, copy=False)
        return _weighted_mean(per_element, gradient, sample_weight)


LOSSES = {
    "squared_error": SquaredError,
    "absolute_error": AbsoluteError,
    "huber": Huber,
    "poisson": Poisson,
    "gamma": Gamma,
    "quantile": Quantile,
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

    prediction_noun = "predicted probabilities"

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

    prediction_noun = "predicted probabilities"

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
