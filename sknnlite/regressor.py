"""NNRegressor: a neural network regressor as a scikit-learn estimator."""

import numpy as np
from scipy import sparse
from sklearn.base import RegressorMixin, clone
from sklearn.metrics import d2_pinball_score, r2_score
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import START_OVER, BaseNN, check_score_weight
from .losses import LOSSES, Loss, Quantile, get_loss

__all__ = ["NNRegressor"]


class NNRegressor(RegressorMixin, BaseNN):
    """Neural network regressor built from a list of layers.

    Parameters
    ----------
    layers : list of Layer or None, default=None
        Template of the network, e.g. ``[Dense(64), ReLU(), Dense()]``. It is
        never modified: ``fit`` trains copies, stored in ``layers_``. The
        last ``Dense()`` without ``units`` gets one unit per target. ``None``
        means ``[Dense(100), ReLU(), Dense()]``.
    loss : {"squared_error", "absolute_error", "huber", "poisson", "gamma", \
            "quantile"} or Loss, default="squared_error"
        What training minimises: a name, or a :class:`~sknnlite.losses.Loss`
        object (``Huber(delta=0.5)``, ``Quantile(quantiles=[0.1, 0.9])`` or
        one you wrote), whose settings are tunable as ``loss__<name>``. The
        loss decides how the target is scaled for training
        (:meth:`~sknnlite.losses.Loss.target_scaling`): by mean and standard
        deviation for ``"squared_error"``, by median and interquartile range
        (:func:`~sknnlite.losses.median_iqr`) for the robust
        ``"absolute_error"``, ``"huber"`` and ``"quantile"``, not at all for
        ``"poisson"`` and ``"gamma"`` (which need ``y >= 0`` and ``y > 0``
        and predict ``exp`` of the network output).
        ``"quantile"`` (quantiles 0.05, 0.5 and 0.95 unless given) predicts
        one column per quantile; see :meth:`predict` and
        :meth:`predict_interval`.
    optimizer : {"adam", "sgd", "lbfgs"} or Optimizer, default="adam"
        Optimizer name or object (``Adam(beta_1=0.8)``, ``SGD(momentum=0.5)``,
        ``LBFGS(max_fun=5000)``); its settings are tunable as
        ``optimizer__<name>``. ``"lbfgs"`` trains on all the data at once and
        has no ``partial_fit``.
    learning_rate : float, default=0.001
        Step size of Adam and SGD (the initial one, with an SGD schedule).
        L-BFGS ignores it: its line search chooses each step.
    alpha : float, default=0.0001
        Strength of the L2 penalty on weights (not biases).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs (passes over the data).
    tol : float, default=1e-4
        Minimum improvement that counts as progress: of the training loss,
        in the units of ``loss_curve_`` (the loss of the scaled target
        for every loss but ``"poisson"`` and ``"gamma"``, so the same
        ``tol`` suits any units of ``y``), or, with ``early_stopping``, of
        the validation R². L-BFGS also passes it to SciPy as the gradient
        tolerance ``gtol``, and without early stopping stops by SciPy's tests
        alone.
    n_iter_no_change : int, default=10
        Stop after this many epochs without progress.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split.
        An int gives the stream of ``numpy.random.RandomState(random_state)``,
        as scikit-learn's MLP uses it: a network of ``Dense`` layers with
        ReLU, Tanh or Identity activations and default initialisation starts
        from the weights ``MLP*(random_state=...)`` draws and visits the rows
        in the same order, so with equal settings the two fit the same model
        up to rounding (the exceptions, such as a multiclass early-stopping
        split, which sknnlite stratifies and MLP does not, are listed in the
        README's "From MLPRegressor to sknnlite").
    warm_start : bool, default=False
        Continue from the previous fit's weights and optimizer state.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its R²
        stops improving and restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    verbose : bool, default=False
        Print a table with one row per epoch: training loss, validation
        loss and score (with ``early_stopping``), a ``*`` on a new best
        epoch, and seconds.

    Attributes
    ----------
    layers_ : list of Layer
        The trained layers.
    network_ : Network
        The trained network (layers plus the flat parameter buffer).
    optimizer_ : Optimizer
        The optimizer with its state.
    loss_function_ : Loss
        The loss that was minimised.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss per epoch: the mean of the epoch's batch losses plus
        the L2 penalty, in scaled units (see ``target_scale_``).
    best_loss_ : float or None
        Lowest training loss (``None`` with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation R² per epoch (with ``early_stopping``); for a robust loss
        (``absolute_error``, ``huber``, ``quantile``: ``Loss.robust``) the
        negative validation loss, in the units of ``validation_loss_curve_``
        (as ``HistGradientBoostingRegressor`` with ``scoring="loss"``), since
        one outlier among the held-out rows makes R² flat.
    validation_loss_curve_ : list of float or None
        Loss on the held-out data per epoch (with ``early_stopping``), in
        the units of ``loss_curve_`` but without the L2 penalty.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (with ``early_stopping``).
    n_iter_ : int
        Epochs run in total, including earlier warm-started fits.
    t_ : int
        Training samples seen in total.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.
    n_outputs_ : int
        Number of targets.
    target_center_ : ndarray of shape (`n_outputs_`,)
        Center subtracted from each target before training: its mean for
        ``"squared_error"``, its median for ``"absolute_error"`` and
        ``"huber"``, 0 for ``"poisson"`` and ``"gamma"``.
    target_scale_ : ndarray of shape (`n_outputs_`,)
        Scale the centered targets are divided by: the standard deviation,
        the interquartile range / 1.349, or 1, following the loss (for a
        constant column 1, or in a first one-row ``partial_fit`` the
        target's magnitude). The network learns ``(y - target_center_) /
        target_scale_``, ``predict`` undoes it, and the losses in
        ``loss_curve_`` are in these units. Fixed by the first fit;
        ``warm_start`` and ``partial_fit`` keep it.
    coefs_ : list of ndarray
        Weight matrices of the layers that have one, first layer first, as
        in ``MLPRegressor`` (views into ``network_.coef``).
    intercepts_ : list of ndarray
        Bias vectors of the layers that have one, as in ``MLPRegressor``.

    See Also
    --------
    NNClassifier : The classifier with the same parameters.
    sklearn.neural_network.MLPRegressor : scikit-learn's multi-layer
        perceptron; the user guide maps its parameters to these.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sknnlite import NNRegressor, Dense, ReLU
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = NNRegressor([Dense(32), ReLU(), Dense()], learning_rate=0.01,
    ...                     tol=1e-3, random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape
    (2,)
    >>> model.n_iter_ < model.max_iter  # the stopping rule ended training
    True
    """

    _parameter_constraints = {
        **BaseNN._parameter_constraints,
        "loss": [StrOptions(set(LOSSES)), Loss],
    }

    def __init__(
        self,
        layers=None,
        loss="squared_error",
        optimizer="adam",
        learning_rate=0.001,
        alpha=0.0001,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        verbose=False,
    ):
        super().__init__(
            layers=layers,
            optimizer=optimizer,
            learning_rate=learning_rate,
            alpha=alpha,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            verbose=verbose,
        )
        self.loss = loss

    def _validate_training_data(self, X, y, sample_weight, reset):
        """Check the data as the base does, and that ``y`` holds usable numbers.

        ``y`` must be finite (``None`` in an object ``y`` is NaN), fit in the
        dtype of ``X`` (predictions come back in it) and, for a fitted model,
        have as many targets as it was fitted on. A 1-D ``y`` and a
        one-column ``y`` both mean one target.
        """
        X, y, sample_weight = super()._validate_training_data(
            X, y, sample_weight, reset
        )
        y = _numeric_targets(y)
        assert_all_finite(y, input_name="y")
        _check_target_range(y, X.dtype)
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        if not reset and n_targets != self.n_outputs_:
            raise ValueError(
                f"y has {n_targets} target column(s) but the model was fitted on "
                f"{self.n_outputs_}. Pass y with {self.n_outputs_} column(s). "
                f"{START_OVER[bool(self.warm_start)]}"
            )
        return X, y, sample_weight

    def _encode_targets(self, y, sample_weight, reset, classes=None, incremental=False):
        """Return ``y`` as a 2-D float array, scaled as the loss asks.

        The scaling is fixed by the first call. A first ``partial_fit`` chunk
        whose target does not vary (one row, online learning) has no spread
        to scale by: the stream's later targets will vary, and the magnitude
        of this one is a better guess of their scale than 1, which would
        make what is learned depend on the units of ``y``.
        """
        y = _numeric_targets(y)
        targets = y.reshape(y.shape[0], -1)
        if reset:
            self._y_ndim = y.ndim
            self.n_outputs_ = targets.shape[1]
            self.loss_function_ = _make_loss(self.loss)
            self.target_center_, self.target_scale_ = _target_scaling(
                self.loss_function_, targets, sample_weight
            )
            self._target_scale_pending = None
            if incremental and _loss_scales(self.loss_function_, targets.shape[1]):
                self._target_scale_pending = _scale_flat_columns_by_magnitude(
                    targets, self.target_center_, self.target_scale_
                )
        else:
            self._resolve_pending_scale(targets, sample_weight)
        self.loss_function_.check_target(targets)
        return (targets - self.target_center_) / self.target_scale_

    def _setting_object(self, name, value):
        """The loss as fit makes it: ``"squared_error"`` is ``SquaredError()``."""
        return _make_loss(value) if name == "loss" else value

    def _resolve_pending_scale(self, targets, sample_weight):
        """Scale the columns a first one-value chunk at 0 left without one.

        A first ``partial_fit`` chunk whose target is 0 everywhere gives no
        magnitude either: its scaled target is 0 whatever the scale, so the
        scale is taken from the first later call that shows one (the spread
        of its targets, or their distance from the center if they do not
        vary), and what the stream teaches does not depend on ``y``'s units.
        """
        pending = getattr(self, "_target_scale_pending", None)
        if pending is None or not pending.any():
            return
        _, spread = _target_scaling(self.loss_function_, targets, sample_weight)
        flat = np.all(targets == targets[:1], axis=0)
        distance = np.abs(targets[0] - self.target_center_)
        scale = np.where(flat, distance, spread)
        resolved = pending & (scale > 0)
        # New arrays, not writes: a predict in another thread reads the old.
        self.target_scale_ = np.where(resolved, scale, self.target_scale_)
        self._target_scale_pending = pending & ~resolved

    def predict(self, X):
        """Predict targets for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, 1-D when ``y`` was 1-D in ``fit``, in the dtype the
            model was trained in. With a :class:`~sknnlite.losses.Quantile`
            loss of several quantiles, a last axis of length
            ``n_quantiles``: shape ``(n_samples, n_quantiles)`` for 1-D
            ``y``, ``(n_samples, n_outputs, n_quantiles)`` otherwise, in
            increasing order (they never cross).
        """
        return self._shaped(self._predict_columns(X))

    def predict_interval(self, X):
        """Predict the bounds of an interval: the lowest and highest quantile.

        For a model fitted with ``loss=Quantile(quantiles=[lower, ...,
        upper])``: with ``quantiles=(0.05, 0.5, 0.95)``, ``y`` is expected
        inside ``[lower, upper]`` for 90 % of the samples.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        lower, upper : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted lowest and highest quantiles, ``lower <= upper``.

        Raises
        ------
        ValueError
            If the loss is not a ``Quantile`` loss with at least two quantiles.
        """
        check_is_fitted(self)
        loss = self.loss_function_
        if not isinstance(loss, Quantile) or loss.levels.size < 2:
            raise ValueError(
                "predict_interval needs a model fitted with loss=Quantile("
                "quantiles=[lower, ..., upper]) of at least two quantiles, such "
                f"as Quantile(quantiles=[0.05, 0.95]); this one has loss={loss!r}."
            )
        quantiles = self.predict(X)
        return quantiles[..., 0], quantiles[..., -1]

    def _predict_columns(self, X):
        """Predictions in the units of ``y``, one column per network output."""
        output = self._forward(X)  # first: it checks that the model is fitted
        output = self.loss_function_.inverse_link(output)
        output *= self._per_output(self.target_scale_).astype(output.dtype)
        output += self._per_output(self.target_center_).astype(output.dtype)
        return output

    def _per_output(self, per_target):
        """A per-target array repeated for each of a target's outputs (quantiles)."""
        return np.repeat(per_target, self.loss_function_.n_outputs(1))

    def _shaped(self, columns):
        """Predictions in the shape of ``y``, plus a quantile axis if several."""
        n_quantiles = self.loss_function_.n_outputs(1)
        if n_quantiles == 1:
            return columns.ravel() if self._y_ndim == 1 else columns
        columns = columns.reshape(len(columns), self.n_outputs_, n_quantiles)
        return columns[:, 0, :] if self._y_ndim == 1 else columns

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R² of the predictions.

        Computed in units of the training target's scale
        (``target_scale_``), which leaves R² unchanged but cannot overflow
        for huge targets (1e200). With a :class:`~sknnlite.losses.Quantile`
        loss, the R² analogue that the loss optimises instead: the fraction
        of pinball loss explained, ``sklearn.metrics.d2_pinball_score``,
        averaged over the quantiles (and outputs).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        score : float
            R² (or D² of the pinball loss) averaged uniformly over outputs.

        Raises
        ------
        ValueError
            If ``sample_weight`` has a negative value or the wrong length.
        """
        check_is_fitted(self)
        sample_weight = check_score_weight(sample_weight, X)
        y = _numeric_targets(y).astype(np.float64, copy=False)
        if isinstance(self.loss_function_, Quantile):
            columns = self._predict_columns(X) / self._per_output(self.target_scale_)
            targets = y.reshape(len(y), -1) / self.target_scale_
            return _quantile_score(targets, columns, self.loss_function_, sample_weight)
        y_pred = self.predict(X)
        scale = self.target_scale_ if y.ndim == 2 else self.target_scale_[0]
        return r2_score(y / scale, y_pred / scale, sample_weight=sample_weight)

    def _score_output(self, output, targets, sample_weight):
        """The early-stopping score of network ``output`` against ``targets``.

        R², as ``MLPRegressor``; for a robust loss (``Loss.robust``) the
        negative loss, as ``HistGradientBoostingRegressor(scoring="loss")``:
        an outlier among the held-out rows would make R² flat.
        """
        if self.loss_function_.robust:
            return -self.loss_function_.value(targets, output, sample_weight)
        prediction = self.loss_function_.inverse_link(output.copy())
        if isinstance(self.loss_function_, Quantile):
            return _quantile_score(
                targets, prediction, self.loss_function_, sample_weight
            )
        return r2_score(targets, prediction, sample_weight=sample_weight)

    @property
    def target_mean_(self):
        """Removed in 0.3: ``target_center_``; reading it says so."""
        raise AttributeError(
            "NNRegressor.target_mean_ was removed in sknnlite 0.3 (deprecated since "
            "0.2); use target_center_, which holds the median for robust losses."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def __setstate__(self, state):
        if "target_mean_" in state:  # pickled by sknnlite 0.1
            state["target_center_"] = state.pop("target_mean_")
        super().__setstate__(state)


def _numeric_targets(y):
    """``y`` as a dense numeric array, or a clear error for labels and dates."""
    y = np.asarray(y.toarray() if sparse.issparse(y) else y)
    if y.dtype.kind in "biuf":
        return y
    if y.dtype.kind in "mM":
        raise ValueError(
            f"NNRegressor needs numeric targets, got y of dtype {y.dtype} (dates "
            "or durations). Convert them to numbers first, e.g. durations in "
            "seconds: y / np.timedelta64(1, 's')."
        )
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"NNRegressor needs numeric targets, got y of dtype {y.dtype} "
            f"({_first_non_number(y)} is not a number). For class labels use "
            "NNClassifier."
        ) from None


def _first_non_number(y):
    """``repr`` of the first value of ``y`` that does not convert to a float."""
    for value in y.tolist() if y.ndim else [y.item()]:
        for item in value if isinstance(value, list) else [value]:
            try:
                float(item)
            except (TypeError, ValueError):
                return repr(item)
    return repr(y.flat[0])


def _quantile_score(targets, columns, loss, sample_weight):
    """``d2_pinball_score`` averaged over quantiles; ``columns`` target-major."""
    levels = loss.levels
    return np.mean(
        [
            d2_pinball_score(
                targets,
                columns[:, k :: levels.size],
                alpha=level,
                sample_weight=sample_weight,
            )
            for k, level in enumerate(levels)
        ]
    )


def _check_target_range(y, dtype):
    """Refuse targets beyond the range of ``dtype``, the dtype of predictions."""
    largest = float(np.max(np.abs(y))) if y.size else 0.0
    limit = float(np.finfo(dtype).max)
    if largest > limit:
        raise ValueError(
            f"y has values up to {largest:.3g}, beyond the range of {dtype} "
            f"({limit:.3g}), the dtype of X that the model trains and predicts in. "
            "Pass X as float64 (X.astype(np.float64)), or rescale y."
        )


def _make_loss(loss):
    """A validated copy of the ``loss`` parameter as a Loss object."""
    loss_function = clone(get_loss(loss))
    loss_function.validate_params(f"loss ({type(loss_function).__name__})")
    return loss_function


def _loss_scales(loss_function, n_outputs):
    """Whether the loss scales targets at all (Poisson and gamma do not)."""
    probe = np.tile([[1.0], [3.0], [10.0]], (1, n_outputs))
    center, scale = _target_scaling(loss_function, probe, None)
    return bool(np.any(center != 0) or np.any(scale != 1))


def _scale_flat_columns_by_magnitude(targets, center, scale):
    """Where a column of ``targets`` does not vary, set its scale to ``|center|``.

    Only for a center the loss chose (a loss that does not scale, such as
    Poisson, has center 0 and keeps scale 1). Returns the columns that do
    not vary and sit at 0, whose scale is still to be found (a bool array).
    """
    flat = np.all(targets == targets[:1], axis=0)
    at_zero = center == 0
    scale[flat & ~at_zero] = np.abs(center[flat & ~at_zero])
    return flat & at_zero


def _target_scaling(loss_function, targets, sample_weight):
    """The loss's center and scale, checked: shape ``(n_outputs,)``, scale > 0."""
    scaling = loss_function.target_scaling(targets, sample_weight)
    center, scale = (np.asarray(value, dtype=np.float64) for value in scaling)
    n_outputs = targets.shape[1]
    if not (
        center.shape == scale.shape == (n_outputs,)
        and np.all(np.isfinite(center))
        and np.all(np.isfinite(scale) & (scale > 0))
    ):
        raise ValueError(
            f"{type(loss_function).__name__}.target_scaling must return a finite "
            f"center and a positive, finite scale of shape ({n_outputs},), one "
            f"per target; got {center!r} and {scale!r}."
        )
    return center, scale
