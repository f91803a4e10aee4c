"""What NNRegressor and NNClassifier share: parameters, fitting, predicting.

The estimators translate between scikit-learn and the engine. ``fit`` and
``partial_fit`` read in the order things happen: validate the data and
encode the targets (subclasses do that in ``_encode_targets``), build the
network from the template ``layers`` on a new model, run one
:class:`~sknnlite.training.TrainingLoop`, and copy what it recorded into the
fitted attributes. Every training decision (batches, stopping, divergence,
best weights) lives in the loop.
"""

import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._callbacks import CALLBACK_STATE, CallbackHook, CallbackSupportMixin, FitTasks
from ._config import refuse_bool_numbers
from ._reporting import EpochTable, NetworkSummary
from ._version import __version__
from .activations import ACTIVATIONS, ReLU, get_activation
from .exceptions import SknnliteVersionWarning
from .layers import Dense
from .network import Network, check_layers, set_layer_params
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .training import History, LoopSettings, TrainingLoop

__all__ = ["BaseNN", "default_layers"]

#: Rows forwarded at once by ``predict``; bounds its extra memory.
PREDICT_CHUNK_ROWS = 2048

#: What to do instead of continuing a fitted model, by ``warm_start``: with
#: ``warm_start=False`` only ``partial_fit`` continues one.
START_OVER = {
    False: "To train a new model on this y, call fit (partial_fit always "
    "continues the fitted model).",
    True: "To train a new model on this y, set warm_start=False and call fit "
    "(with warm_start=True, fit continues the fitted model, as partial_fit does).",
}

#: Input dtypes that ``predict`` validates without ``validate_data``
#: (see ``BaseNN._fast_validated``).
_FAST_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def default_layers():
    """The stack used when ``layers=None``: one hidden layer of 100 ReLUs."""
    return [Dense(100), ReLU(), Dense()]


def has_mini_batch_optimizer(estimator):
    """``partial_fit`` exists only with a mini-batch optimizer (as in MLP).

    Raises ``AttributeError`` (so ``hasattr(est, "partial_fit")`` is False)
    saying why, for an optimizer that needs all the data at once.
    """
    optimizer = estimator.optimizer
    kind = OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else optimizer
    if getattr(kind, "full_batch", False):
        raise AttributeError(
            f"partial_fit needs a mini-batch optimizer ('adam' or 'sgd'), but "
            f"optimizer={optimizer!r} trains on the whole data at once. Use fit, "
            "or choose optimizer='adam'."
        )
    return True


class BaseNN(CallbackSupportMixin, BaseEstimator):
    """Shared implementation of the sknnlite estimators (not public)."""

    _parameter_constraints = {
        "layers": [list, tuple, None],
        "optimizer": [StrOptions(set(OPTIMIZERS)), Optimizer],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        layers=None,
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
        self.layers = layers
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.verbose = verbose

    # ----------------------------------------------------------- parameters
    def _validate_params(self):
        """scikit-learn's parameter validation, also refusing bools as numbers."""
        _refuse_mlp_schedule(self.learning_rate, type(self).__name__)
        refuse_bool_numbers(
            self._parameter_constraints,
            self.get_params(deep=False),
            type(self).__name__,
        )
        super()._validate_params()

    def get_params(self, deep=True):
        """Get parameters; with ``deep`` also ``layers__<i>__<name>``.

        Parameters
        ----------
        deep : bool, default=True
            Include the settings of each layer (``layers__0__units``) and of
            an optimizer object (``optimizer__beta_1``).

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        if deep and isinstance(self.layers, (list, tuple)):
            for index, layer in enumerate(self.layers):
                params[f"layers__{index}"] = layer
                if hasattr(layer, "get_params"):
                    for name, value in layer.get_params(deep=True).items():
                        params[f"layers__{index}__{name}"] = value
        return params

    def set_params(self, **params):
        """Set parameters, including ``layers__<i>__<name>`` and ``optimizer__*``.

        Nested settings are applied to copies, so layer and optimizer objects
        the user passed are never modified.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
        """
        nested = {k: v for k, v in params.items() if "__" in k}
        plain = {k: v for k, v in params.items() if "__" not in k}
        super().set_params(**plain)
        layer_settings = {k: v for k, v in nested.items() if k.startswith("layers__")}
        other = {k: v for k, v in nested.items() if k not in layer_settings}
        if layer_settings:
            self.layers = _set_layer_params(self.layers, layer_settings)
        if other:
            self._set_nested_copies(other)
        return self

    def _set_nested_copies(self, nested):
        """Apply ``name__sub`` settings to copies of the nested objects."""
        grouped = {}
        for key, value in nested.items():
            name, _, sub = key.partition("__")
            grouped.setdefault(name, {})[sub] = value
        for name, settings in grouped.items():
            current = (
                getattr(self, name, None)
                if name in self.get_params(deep=False)
                else None
            )
            if not hasattr(current, "set_params"):
                raise ValueError(
                    f"Invalid parameter {name}__{next(iter(settings))!r} for "
                    f"{type(self).__name__}: {name}={current!r} has no nested "
                    "parameters."
                )
            setattr(self, name, clone(current).set_params(**settings))

    # -------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X`` and ``y``.

        Trains fresh copies of ``layers`` (or, with ``warm_start=True`` on a
        fitted model, continues from the current weights and optimizer
        state) for up to ``max_iter`` epochs. The stopping, divergence and
        best-weights rules are in the user guide, "How a fit ends", and in
        :mod:`sknnlite.training`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 trains in float32; anything else numeric
            in float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: numbers for ``NNRegressor``; class labels of any type,
            or a 0/1 indicator matrix of shape (n_samples, n_labels), for
            ``NNClassifier``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` weighs every sample 1. A weight
            of 2 counts like a repeated row.

        Returns
        -------
        self : estimator instance
            The fitted estimator.

        Raises
        ------
        ValueError
            On invalid data or settings (the message names the parameter and
            the fix), or when a new model diverges before finishing one
            epoch. If ``fit`` raises, a model fitted before is left exactly
            as it was.
        TypeError
            If ``layers`` holds something that is not a layer.

        Warns
        -----
        DivergenceWarning
            Training diverged; it stopped, the best weights were restored and
            the optimizer state was reset.
        sklearn.exceptions.ConvergenceWarning
            ``max_iter`` (or L-BFGS's ``max_fun``) was reached, training was
            unstable (the best weights were restored), the loss did not
            decrease, or the fitted network fits its training data worse than
            a constant.
        UserWarning
            ``batch_size`` is larger than the data (it is clipped), or
            training was interrupted with Ctrl-C (the finished epochs are
            kept).

        Examples
        --------
        >>> from sklearn.datasets import make_friedman1
        >>> from sknnlite import NNRegressor
        >>> X, y = make_friedman1(n_samples=200, random_state=0)
        >>> model = NNRegressor(learning_rate=0.01, tol=1e-3, random_state=0)
        >>> model = model.fit(X, y)
        >>> model.n_iter_ == len(model.loss_curve_)
        True
        """
        warm = self.warm_start and hasattr(self, "network_")
        return self._fit(X, y, sample_weight, incremental=False, new_model=not warm)

    @available_if(has_mini_batch_optimizer)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one pass over ``X`` and ``y``.

        The first call builds the network; later calls continue with the
        current weights and optimizer state (also after ``fit``). Each call
        is one epoch: ``n_iter_``, ``t_`` and ``loss_curve_`` grow by one
        epoch. There is no early stopping or convergence check: the caller
        decides when to stop. A call that diverges is undone, with a
        ``DivergenceWarning``. Only mini-batch optimizers (Adam, SGD) have
        it: with ``optimizer="lbfgs"`` the method does not exist.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : estimator instance
            The updated estimator.

        Raises
        ------
        ValueError
            On invalid data or settings, a different number of features than
            the first call, or when a new model diverges in its first call.
            If the call raises, the model is left exactly as it was.
        TypeError
            If ``layers`` holds something that is not a layer.

        Warns
        -----
        DivergenceWarning
            The call diverged and was undone.
        UserWarning
            ``batch_size`` is larger than the data (it is clipped), or the
            call was interrupted with Ctrl-C (and undone).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_friedman1
        >>> from sknnlite import NNRegressor
        >>> X, y = make_friedman1(n_samples=400, random_state=0)
        >>> model = NNRegressor(learning_rate=0.01, random_state=0)
        >>> for rows in np.array_split(np.arange(400), 4):
        ...     model = model.partial_fit(X[rows], y[rows])
        >>> model.n_iter_, model.t_
        (4, 400)
        """
        new = not hasattr(self, "network_")
        return self._fit(X, y, sample_weight, incremental=True, new_model=new)

    def _fit(self, X, y, sample_weight, *, incremental, new_model, classes=None):
        """Validate, build if new, run the training loop once, commit its history."""
        if not new_model:
            self._check_continued_settings(incremental)
        with _restore_on_error(self):
            data = self._prepare(X, y, sample_weight, new_model, classes, incremental)
            tasks = FitTasks(
                self, 1 if incremental else self.max_iter, X, y, sample_weight
            )
            loop = TrainingLoop(
                self.network_,
                self.loss_function_,
                self.optimizer_,
                self._loop_settings(incremental, new_model),
                self._history(),
                self._rng,
                self._hooks(tasks),
            )
            outcome = loop.run(
                *data, stratify=self._stratify_labels(data[1]), score=self._score_output
            )
            self._commit(outcome.history)
            tasks.end()
        for category, message in outcome.warnings:
            warnings.warn(message, category, stacklevel=4)
        return self

    def _prepare(self, X, y, sample_weight, reset, classes=None, incremental=False):
        """Validate the data, encode the targets and, on ``reset``, initialise."""
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=reset
        )
        targets = self._encode_targets(
            y, sample_weight, reset=reset, classes=classes, incremental=incremental
        )
        targets = targets.astype(X.dtype, copy=False)
        sample_weight = self._weigh_samples(y, targets, sample_weight)
        if reset:
            self._initialize(X, targets)
        return X, targets, sample_weight

    def _validate_training_data(self, X, y, sample_weight, reset):
        """Check ``X``, ``y`` and weights.

        A new model keeps float32 ``X`` or makes it float64; a fitted one
        takes ``X`` in its network's dtype, so values that overflow it are
        refused as at predict time.
        """
        X, y = validate_data(
            self,
            X,
            _plain_targets(y),
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32] if reset else self.network_.dtype,
            multi_output=True,
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
            _check_weight_total(sample_weight)
        return X, y, sample_weight

    def _weigh_samples(self, y, targets, sample_weight):
        """Weights to train with (regressors: ``sample_weight`` as given)."""
        return sample_weight

    def _initialize(self, X, targets):
        """Build fresh copies of the layers and the optimizer; empty the history."""
        self._rng = _make_generator(self.random_state)
        template = default_layers() if self.layers is None else self.layers
        if len(template) == 0:
            raise ValueError(
                "layers=[] has no layers. Pass at least one, e.g. [Dense()], or "
                "layers=None for the default [Dense(100), ReLU(), Dense()]."
            )
        _validate_components(template, self.optimizer)
        self.network_ = Network([_copy_layer(layer) for layer in template])
        # One output per target, or more for some losses (one per quantile).
        n_outputs = self.loss_function_.n_outputs(targets.shape[1])
        self.network_.build(X.shape[1], n_outputs, self._rng, X.dtype)
        if self.network_.n_outputs != n_outputs:
            per_target = "" if n_outputs == targets.shape[1] else ", one per quantile"
            raise ValueError(
                f"The last layer gives {self.network_.n_outputs} outputs but y has "
                f"{targets.shape[1]} target columns, which need {n_outputs} "
                f"outputs{per_target}. Make the last Dense layer Dense() (it takes "
                "the right width) or give it that width."
            )
        self.layers_ = self.network_.layers
        self.optimizer_ = get_optimizer(self.optimizer)
        self.optimizer_.initialize(self.network_.coef)
        self._built_with = self._model_settings()
        self._commit(History())

    #: Parameters that define the fitted model: a warm fit or partial_fit
    #: cannot continue a model built with other values.
    _MODEL_PARAMETERS = ("layers", "loss")

    def _model_settings(self):
        """A comparable description of the model-defining parameters and optimizer."""
        # Attributes read directly: get_params inspects the signature, which
        # cost most of a check that every partial_fit call makes.
        names = [*self._MODEL_PARAMETERS, "optimizer"]
        return {
            name: _describe(self._setting_object(name, getattr(self, name)))
            for name in names
            if hasattr(self, name)
        }

    def _setting_object(self, name, value):
        """``value`` as the object fit makes of it, so spellings compare equal."""
        return value

    def _check_continued_settings(self, incremental):
        """Refuse a changed architecture or loss; take a changed optimizer.

        ``warm_start`` and ``partial_fit`` continue the fitted network, so a
        ``set_params`` of ``layers`` (or ``loss``) since it was built cannot
        apply: it would be ignored silently while ``get_params`` describes
        another model. A new ``optimizer`` applies, with a fresh state (as
        ``MLPRegressor`` takes a new ``solver`` in a warm fit).
        """
        built = getattr(self, "_built_with", None)
        if built is None:  # a model saved before sknnlite 0.2.1
            return
        now = self._model_settings()
        for name in self._MODEL_PARAMETERS:
            if name in built and now.get(name) != built[name]:
                call = "partial_fit" if incremental else "a warm fit"
                fix = (
                    "set warm_start=False and call fit"
                    if self.warm_start
                    else ("call fit")
                )
                raise ValueError(
                    f"{name} changed (set_params) since the model was built, but "
                    f"{call} continues the fitted network, which the new {name} "
                    f"does not describe. To train a new model with the new {name}, "
                    f"{fix}; or set {name} back."
                )
        if now.get("optimizer") != built.get("optimizer"):
            _validate_components([], self.optimizer)
            self.optimizer_ = get_optimizer(self.optimizer)
            self.optimizer_.initialize(self.network_.coef)
            self._built_with = {**built, "optimizer": now["optimizer"]}

    def _loop_settings(self, incremental, new_model):
        """The loop's settings for this call, from the estimator's parameters."""
        return LoopSettings(
            learning_rate=self.learning_rate,
            alpha=self.alpha,
            batch_size=self.batch_size,
            max_epochs=1 if incremental else self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            incremental=incremental,
            new_model=new_model,
        )

    def _hooks(self, tasks):
        """Watchers of the loop: scikit-learn callbacks and the verbose table."""
        hooks = [CallbackHook(tasks, self._epoch_attributes)]
        if self.verbose:
            hooks.append(EpochTable())
        return hooks

    def _history(self):
        """The fitted history as the loop's :class:`~sknnlite.training.History`."""
        return History(
            n_iter=self.n_iter_,
            t=self.t_,
            loss_curve=self.loss_curve_,
            validation_scores=self.validation_scores_,
            validation_loss_curve=self.validation_loss_curve_,
            best_loss=self.best_loss_,
            best_validation_score=self.best_validation_score_,
            initial_loss=self._initial_loss,
            # Models saved before 0.3.0 have no such attribute.
            warned_unscaled=getattr(self, "_warned_unscaled", False),
        )

    def _commit(self, history):
        """Copy a training history into the fitted attributes."""
        self.n_iter_, self.t_ = history.n_iter, history.t
        self.loss_curve_ = history.loss_curve
        if history.loss_curve:
            self.loss_ = history.loss_curve[-1]
        self.validation_scores_ = history.validation_scores
        self.validation_loss_curve_ = history.validation_loss_curve
        self.best_loss_ = history.best_loss
        self.best_validation_score_ = history.best_validation_score
        self._initial_loss = history.initial_loss
        self._warned_unscaled = history.warned_unscaled

    def _epoch_attributes(self, loop):
        """Fitted attributes as they are at the end of the loop's current epoch."""
        history = loop.history.copy()
        return {
            "n_iter_": history.n_iter,
            "t_": history.t,
            "loss_": history.loss_curve[-1] if history.loss_curve else None,
            "loss_curve_": history.loss_curve,
            "validation_scores_": history.validation_scores,
            "validation_loss_curve_": history.validation_loss_curve,
            "best_loss_": history.best_loss,
            "best_validation_score_": history.best_validation_score,
        }

    def _stratify_labels(self, targets):
        """Labels to stratify the validation split by (regressors: none)."""
        return None

    # ------------------------------------------------------------ reporting
    @property
    def coefs_(self):
        """Weight matrices ``W`` of the layers that have one, as in MLPRegressor.

        Views into the flat parameter vector, first layer first.
        """
        check_is_fitted(self)
        return [layer.params["W"] for layer in self.layers_ if "W" in layer.params]

    @property
    def intercepts_(self):
        """Bias vectors ``b`` of the layers that have one, as in MLPRegressor."""
        check_is_fitted(self)
        return [layer.params["b"] for layer in self.layers_ if "b" in layer.params]

    def summary(self):
        """Describe the fitted network: each layer, its output width and size.

        Returns
        -------
        summary : NetworkSummary
            Its ``rows`` are ``(index, layer_repr, output_width, n_params)``
            per layer, ``n_params`` the total; printing it shows a table.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted yet.
        """
        check_is_fitted(self)
        return NetworkSummary(self.network_)

    # ----------------------------------------------------------- predicting
    def _forward(self, X):
        """Validated network output for ``X``, computed in chunks.

        Writes nothing on the estimator, so calls from several threads are
        safe (see :meth:`Network.predict`).
        """
        if not hasattr(self, "network_"):  # one lookup for a fitted model
            check_is_fitted(self)
        validated = self._fast_validated(X)
        if validated is None:
            validated = validate_data(
                self,
                X,
                reset=False,
                accept_sparse=["csr", "csc"],
                dtype=self.network_.dtype,
            )
            if hasattr(validated, "tocsr"):
                validated = validated.tocsr()
        output = self.network_.predict(validated, PREDICT_CHUNK_ROWS)
        if not np.isfinite(output).all():
            self._explain_non_finite(validated, output)
        return output

    def _explain_non_finite(self, X, output):
        """Raise for NaN or inf outputs of finite rows, naming the layer.

        ``X`` passed validation, so it is finite: a non-finite output means
        a layer's inference broke (or the values overflow the model's
        dtype). A classifier would turn NaN scores into a label and a
        regressor return NaN, both quietly.
        """
        bad = ~np.isfinite(output).all(axis=1)
        with np.errstate(all="ignore"):
            index = self.network_.first_non_finite_inference(X[np.flatnonzero(bad)])
        where = (
            "the network"
            if index is None
            else (f"layers[{index}] ({type(self.network_.layers[index]).__name__})")
        )
        raise ValueError(
            f"{where} returned NaN or inf at inference for {int(bad.sum())} of "
            f"{len(bad)} rows of finite input, so they have no prediction. If "
            "those rows are extreme, the values overflow the model's dtype "
            f"({self.network_.dtype}): scale X as in training. Otherwise fix "
            "the layer's forward(x, training=False) "
            "(sknnlite.testing.check_layer checks it)."
        )

    def _fast_validated(self, X):
        """``X`` as ``validate_data`` would return it, or None to take that path.

        Serving one row at a time, scikit-learn's validation costs several
        times the network itself (dataframe protocol probes, a generic
        finiteness check). For the common request, a plain C-ordered
        float32 or float64 ndarray with at least one row, of the fitted
        width, on a model fitted without feature names, this makes the same
        checks and conversion directly. Anything else, and any input that
        fails a check, returns None: the caller then runs ``validate_data``,
        which raises its own error or warning, so both paths give the same
        results and the same errors.
        """
        if (
            type(X) is not np.ndarray
            or X.dtype not in _FAST_DTYPES
            or X.ndim != 2
            or X.shape[0] == 0
            or X.shape[1] != self.n_features_in_
            or not X.flags.c_contiguous
            or hasattr(self, "feature_names_in_")
        ):
            return None
        if X.dtype != self.network_.dtype:
            # An overflow to float32 is left to validate_data, which warns.
            with np.errstate(over="ignore"):
                X = X.astype(self.network_.dtype)
        # A sum is finite only if every element is (an overflow of the sum
        # merely sends a finite X the normal way).
        return X if np.isfinite(np.add.reduce(X, axis=None)) else None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _sk_visual_block_(self):
        """Show the layer stack as a serial block in the notebook HTML repr."""
        from sklearn.utils._repr_html.estimator import _VisualBlock

        layers = default_layers() if self.layers is None else list(self.layers)
        names = [f"{i}: {_layer_label(layer)}" for i, layer in enumerate(layers)]
        stack = _VisualBlock(
            "serial",
            layers,
            names=names,
            name_details=[repr(layer) for layer in layers],
            dash_wrapped=False,
        )
        return _VisualBlock(
            "serial",
            [stack],
            names=[type(self).__name__],
            name_details=[repr(self)],
        )

    def __getstate__(self):
        # A new dict: object.__getstate__ returns the instance's own __dict__,
        # and pickling, deepcopy or skops must not add to the live model.
        state = dict(super().__getstate__())
        state["_sknnlite_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_sknnlite_version", None)
        if version != __version__:
            warnings.warn(
                f"This {type(self).__name__} was pickled with sknnlite "
                f"{version or 'unknown'} and is loaded with sknnlite {__version__}. "
                "It may not work or may give different results; refit it with "
                "this version to be safe.",
                SknnliteVersionWarning,
                stacklevel=2,
            )
        super().__setstate__(state)


#: MLPRegressor's ``learning_rate`` values: schedules, which are SGD's here.
MLP_SCHEDULES = ("constant", "invscaling", "adaptive")


def _refuse_mlp_schedule(learning_rate, estimator_name):
    """Point MLP's ``learning_rate="adaptive"`` (a schedule) to ``SGD(schedule=...)``.

    In ``MLPRegressor`` ``learning_rate`` names the schedule of its SGD solver
    and ``learning_rate_init`` is the step size; here ``learning_rate`` is the
    step size and the schedule belongs to the optimizer object.
    """
    if isinstance(learning_rate, str) and learning_rate in MLP_SCHEDULES:
        raise InvalidParameterError(
            f"The 'learning_rate' parameter of {estimator_name} is the step size, a "
            f"float (MLPRegressor's learning_rate_init). Got {learning_rate!r}, "
            "which is MLPRegressor's name of a learning-rate schedule; in sknnlite "
            f"the schedule belongs to the optimizer: optimizer=SGD(schedule="
            f"{learning_rate!r}), learning_rate=0.001."
        )


def _plain_targets(y):
    """``y`` from pandas or polars with missing values refused, nullable types unboxed.

    scikit-learn turns a target of a nullable integer or boolean dtype
    (``"Int64"``, ``"boolean"``, ``"int64[pyarrow]"``) into floats, so that
    labels ``True``/``False`` would come back as ``0.0``/``1.0``; without
    missing values such a column gets its NumPy dtype instead. Missing values
    (``NA``, ``None``, null) are refused with one message whatever the
    library and dtype (some reach NumPy as objects that no check catches).
    """
    missing = _count_missing(y)
    if missing:
        raise ValueError(
            f"y has {missing} missing value(s) (NA, None or null). Drop those rows "
            "or fill the values in before fitting."
        )
    numpy_dtype = getattr(getattr(y, "dtype", None), "numpy_dtype", None)
    if (
        getattr(y, "ndim", 0) == 1
        and hasattr(y, "to_numpy")
        and numpy_dtype is not None
        and np.dtype(numpy_dtype).kind in "biu"
    ):
        return y.to_numpy(dtype=numpy_dtype)
    return y


def _count_missing(y):
    """Number of missing entries of a pandas or polars ``y``; 0 for others."""
    if hasattr(y, "isna") and hasattr(y, "to_numpy"):  # pandas
        return int(np.asarray(y.isna()).sum())
    if hasattr(y, "null_count"):  # polars
        return int(np.sum(np.asarray(y.null_count())))
    return 0


def check_score_weight(sample_weight, X):
    """``score``'s ``sample_weight``, refused as ``fit`` refuses it.

    scikit-learn's metrics accept negative weights; a weighted score with
    them is meaningless, and ``fit`` already refuses them.
    """
    if sample_weight is None:
        return None
    return _check_sample_weight(sample_weight, X, ensure_non_negative=True)


def _check_weight_total(sample_weight):
    """Refuse weights whose total overflows or underflows the data's dtype.

    Training divides by the total weight of each batch; a total that is
    ``inf`` or subnormal would make every loss non-finite, and the error
    would blame the learning rate.
    """
    with np.errstate(over="ignore"):  # the overflow is the error raised below
        total = sample_weight.sum()
    finfo = np.finfo(sample_weight.dtype)
    if np.isfinite(total) and total >= finfo.tiny:
        return
    raise ValueError(
        f"sample_weight sums to {total:.3g}, which {sample_weight.dtype} cannot "
        f"divide by (its range is {finfo.tiny:.3g} to {finfo.max:.3g}). Rescale "
        "the weights, e.g. sample_weight / sample_weight.mean(); only their "
        "ratios and the strength of alpha relative to their total matter."
    )


def _set_layer_params(layers, settings):
    """Return a new layer list with ``layers__<i>[__<name>]`` settings applied."""
    return set_layer_params(default_layers() if layers is None else layers, settings)


def _layer_label(layer):
    """A layer's class name, or an activation name as it was given."""
    return repr(layer) if isinstance(layer, str) else type(layer).__name__


def _make_generator(random_state):
    """A NumPy Generator from ``random_state``, never drawing from the global one.

    ``None`` gives fresh OS entropy. An int gives the stream of
    ``numpy.random.RandomState(seed)`` (Mersenne Twister with its legacy
    seeding), the one scikit-learn's MLP draws from, wrapped in a
    ``Generator``: ``uniform`` and ``permutation`` return the same numbers
    from it as ``RandomState`` does, so a seeded fit of a ``Dense``/activation
    stack draws ``MLPRegressor``'s and ``MLPClassifier``'s initial weights and
    row orders (``tests/test_mlp_equivalence.py``). A ``RandomState``
    instance gives one seed (and advances, as scikit-learn's estimators do).
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, Integral):
        bit_generator = np.random.MT19937()
        legacy = np.random.RandomState(int(random_state))
        bit_generator.state = legacy.get_state(legacy=False)
        return np.random.Generator(bit_generator)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


def _describe(value):
    """A structure of tuples and plain values equal for equal settings.

    Layers, losses and optimizers become their class and parameters, so two
    objects with the same settings compare equal and a nested change shows.
    """
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return (
            type(value).__qualname__,
            tuple((key, _describe(params[key])) for key in sorted(params)),
        )
    if isinstance(value, str) and value in ACTIVATIONS:
        return _describe(get_activation(value))  # "relu" is ReLU()
    if isinstance(value, (list, tuple)):
        return tuple(_describe(item) for item in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, tuple(value.ravel().tolist()))
    return value


def _copy_layer(layer):
    """A fresh copy of a template layer (an activation name stays a name)."""
    return layer if isinstance(layer, str) else clone(layer)


def _validate_components(layers, optimizer):
    """Check every layer's and the optimizer's settings; errors name the index."""
    check_layers(layers)
    for index, layer in enumerate(layers):
        if not isinstance(layer, str):  # a name has no settings
            layer.validate_params(f"layers[{index}] ({type(layer).__name__})")
    if isinstance(optimizer, Optimizer):
        optimizer.validate_params(f"optimizer ({type(optimizer).__name__})")


@contextmanager
def _restore_on_error(estimator):
    """Put the estimator's attributes back as they were if the block raises.

    Only references are kept (no copy): attributes replaced during the call
    get their old objects back. What training changes in place (weights,
    optimizer state, random generators) is put back by the training loop.
    scikit-learn's callback bookkeeping is left alone, so that callbacks are
    still torn down after a failure.
    """
    saved = {k: v for k, v in vars(estimator).items() if k not in CALLBACK_STATE}
    try:
        yield
    except BaseException:
        for key in [k for k in vars(estimator) if k not in CALLBACK_STATE]:
            delattr(estimator, key)
        vars(estimator).update(saved)
        raise
