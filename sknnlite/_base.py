"""What NNRegressor and NNClassifier share: parameters, fitting, predicting.

The estimators translate between scikit-learn and the engine: they validate
data, turn targets into arrays the loss understands (subclasses do that in
``_encode_targets``), copy the template ``layers`` into a fitted
:class:`~sknnlite.network.Network`, and drive the training loop.
"""

import copy
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._callbacks import CallbackSupportMixin, FitTasks
from ._reporting import NetworkSummary, best_epoch_line, epoch_header, epoch_row
from ._version import __version__
from .activations import ReLU
from .exceptions import DivergenceWarning, SknnliteVersionWarning
from .layers import Dense
from .network import Network, check_layers
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .training import BatchGatherer, ImprovementTracker, Trainer

__all__ = ["BaseNN", "default_layers"]

#: Rows forwarded at once by ``predict``; bounds its extra memory.
PREDICT_CHUNK_ROWS = 2048


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
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
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
        state) for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` weighs every sample 1.

        Returns
        -------
        self : estimator instance
        """
        reuse = self.warm_start and hasattr(self, "network_")
        with _rollback_on_error(self):
            prepared = self._prepare(X, y, sample_weight, reset=not reuse)
            tasks = FitTasks(self, self.max_iter, X, y, sample_weight)
            self._train(*prepared, max_epochs=self.max_iter, tasks=tasks)
            tasks.end()
        return self

    @available_if(has_mini_batch_optimizer)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one pass over ``X`` and ``y``.

        The first call builds the network; later calls continue with the
        current weights and optimizer state (also after ``fit``). Each call
        is one epoch: ``n_iter_``, ``t_`` and ``loss_curve_`` grow by one
        epoch. There is no early stopping or convergence check: the caller
        decides when to stop.

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
        """
        return self._partial_fit(X, y, sample_weight)

    def _partial_fit(self, X, y, sample_weight, classes=None):
        """``partial_fit`` for both estimators; ``classes`` only for classifiers."""
        first = not hasattr(self, "network_")
        with _rollback_on_error(self):
            prepared = self._prepare(X, y, sample_weight, reset=first, classes=classes)
            tasks = FitTasks(self, 1, X, y, sample_weight)
            self._train_one_pass(*prepared, tasks)
            tasks.end()
        return self

    def _prepare(self, X, y, sample_weight, reset, classes=None):
        """Validate the data, encode the targets and, on ``reset``, initialise."""
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=reset
        )
        targets = self._encode_targets(y, sample_weight, reset=reset, classes=classes)
        targets = targets.astype(X.dtype, copy=False)
        sample_weight = self._weigh_samples(y, targets, sample_weight)
        if reset:
            self._initialize(X, targets)
        return X, targets, sample_weight

    def _train_one_pass(self, X, targets, sample_weight, tasks):
        """One epoch over all the given data, as ``partial_fit`` does."""
        n_train = targets.shape[0]
        gatherer, trainer = self._make_trainer((X, targets, sample_weight))
        if self.verbose and self.n_iter_ == 0:
            print(epoch_header(with_validation=False))
        before = self.network_.snapshot()
        tasks.begin_epoch()
        start = time.perf_counter()
        self._schedule_learning_rate(trainer)
        loss = self._run_epoch(trainer, gatherer, n_train)
        if trainer.diverged(loss):
            self._recover_from_divergence(loss, trainer, before)
            tasks.end_epoch()
            return
        self.network_.check_grads_bound()
        is_best = self.best_loss_ is not None and loss < self.best_loss_
        seconds = time.perf_counter() - start
        self._record_epoch(loss, None, n_train, seconds=seconds, is_best=is_best)
        if self.best_loss_ is not None:
            self.best_loss_ = min(self.best_loss_, loss)
        tasks.end_epoch()

    def _validate_training_data(self, X, y, sample_weight, reset):
        """Check ``X``, ``y`` and weights; ``X`` keeps float32 or becomes float64."""
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            multi_output=True,
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        return X, y, sample_weight

    def _weigh_samples(self, y, targets, sample_weight):
        """Weights to train with (regressors: ``sample_weight`` as given)."""
        return sample_weight

    def _initialize(self, X, targets):
        """Build fresh copies of the layers, the optimizer and the history."""
        self._rng = _make_generator(self.random_state)
        template = default_layers() if self.layers is None else self.layers
        if len(template) == 0:
            raise ValueError(
                "layers=[] has no layers. Pass at least one, e.g. [Dense()], or "
                "layers=None for the default [Dense(100), ReLU(), Dense()]."
            )
        _validate_components(template, self.optimizer)
        self.network_ = Network([clone(layer) for layer in template])
        self.network_.build(X.shape[1], targets.shape[1], self._rng, X.dtype)
        if self.network_.n_outputs != targets.shape[1]:
            raise ValueError(
                f"The last layer gives {self.network_.n_outputs} outputs but y has "
                f"{targets.shape[1]} target columns. Make the last Dense layer "
                "Dense() (it takes the number of targets) or give it that width."
            )
        self.layers_ = self.network_.layers
        self._initial_coef = self.network_.coef.copy()
        self.optimizer_ = get_optimizer(self.optimizer)
        self.optimizer_.initialize(self.network_.coef)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = self.validation_loss_curve_ = None
        self._start_best_tracking(self.early_stopping)

    def _run_epoch(self, trainer, gatherer, n_train):
        """Shuffle and train one epoch, with NumPy's float warnings silenced.

        Overflow is expected when training diverges; it is detected from the
        loss and reported once, by :meth:`_recover_from_divergence`.
        """
        order = self._rng.permutation(n_train) if self.shuffle else None
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return trainer.run_epoch(gatherer, order)

    def _recover_from_divergence(self, loss, trainer, best):
        """Restore the ``best`` snapshot, reset the optimizer and say so."""
        untrained = np.array_equal(best[0], self._initial_coef)
        self.network_.restore(best)
        self.optimizer_.initialize(self.network_.coef)
        kept = (
            "no epoch finished without diverging, so the model keeps its initial, "
            "untrained weights and its predictions are not meaningful"
            if untrained
            else "the weights of the best epoch so far were restored"
        )
        warnings.warn(
            f"Training diverged in epoch {self.n_iter_ + 1}: the loss reached "
            f"{loss:.3g} (it started at {trainer.initial_loss:.3g}). Training "
            f"stopped; {kept}, and the optimizer state was reset. The most likely "
            "cause is a learning rate "
            f"too large: try learning_rate={self.learning_rate / 10:g} or smaller. "
            "If the features are not standardised, scale them first (e.g. "
            "StandardScaler in a Pipeline).",
            DivergenceWarning,
            stacklevel=4,
        )

    def _warn_if_no_progress(self, trainer):
        """Warn when a fit ends with a loss no lower than where it started."""
        initial = trainer.initial_loss
        if self.loss_curve_ and initial is not None and self.loss_curve_[-1] >= initial:
            warnings.warn(
                f"Training did not reduce the loss: it started at "
                f"{trainer.initial_loss:.4g} and ended at {self.loss_curve_[-1]:.4g}."
                f" The learning rate (learning_rate={self.learning_rate:g}) is "
                "probably too large, or the features are not scaled.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _make_trainer(self, train):
        """Batch gatherer and trainer for ``(X, targets, sample_weight)``."""
        n_train = train[1].shape[0]
        gatherer = BatchGatherer(*train, self._resolve_batch_size(n_train))
        trainer = Trainer(
            self.network_,
            self.loss_function_,
            self.optimizer_,
            self.learning_rate,
            self.alpha,
        )
        return gatherer, trainer

    def _start_best_tracking(self, early_stopping):
        """Reset the best values for a fit; start validation histories if needed.

        A warm start may switch ``early_stopping`` on or off between fits.
        """
        self.best_loss_ = None if early_stopping else np.inf
        self.best_validation_score_ = -np.inf if early_stopping else None
        if early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.validation_loss_curve_ = [], []

    def _train(self, X, targets, sample_weight, max_epochs, tasks):
        """Run epochs until converged, stopped early, diverged or at ``max_epochs``."""
        self._start_best_tracking(self.early_stopping)
        train, validation = self._split_validation(X, targets, sample_weight)
        gatherer, trainer = self._make_trainer(train)
        tracker = ImprovementTracker(self.tol, use_score=validation is not None)
        if self.verbose:
            print(epoch_header(with_validation=validation is not None))
        if self.optimizer_.full_batch:
            best = self._train_full_batch(trainer, train, validation, tracker, tasks)
        else:
            best = self._train_mini_batches(
                trainer, gatherer, validation, tracker, tasks
            )
        if best is None:
            return  # diverged: weights restored and reported
        if validation is not None:
            self.network_.restore(best)
        self._print_best_epoch()
        self._warn_if_no_progress(trainer)

    def _train_mini_batches(self, trainer, gatherer, validation, tracker, tasks):
        """The epoch loop of SGD and Adam; returns the best snapshot, or None."""
        n_train = gatherer.y.shape[0]
        best = self.network_.snapshot()
        for epoch in range(self.max_iter):
            tasks.begin_epoch()
            start = time.perf_counter()
            self._schedule_learning_rate(trainer)
            loss = self._run_epoch(trainer, gatherer, n_train)
            if trainer.diverged(loss):
                self._recover_from_divergence(loss, trainer, best)
                tasks.end_epoch()
                return None
            if epoch == 0:
                self.network_.check_grads_bound()
            improved, stop = self._end_epoch(loss, start, n_train, validation, tracker)
            if improved:
                best = self.network_.snapshot()
            if stop:
                stop = not self._reduce_learning_rate(trainer, tracker)
            if tasks.end_epoch() or stop:
                return best
        self._warn_not_converged(self.max_iter)
        return best

    def _schedule_learning_rate(self, trainer):
        """Let the optimizer's schedule set the rate of the coming epoch."""
        trainer.learning_rate = self.optimizer_.epoch_learning_rate(
            self.learning_rate, trainer.learning_rate, self.t_
        )

    def _reduce_learning_rate(self, trainer, tracker):
        """On a plateau, lower the rate if the schedule allows; True if it did."""
        reduced = self.optimizer_.reduce_on_plateau(trainer.learning_rate)
        if reduced is None:
            return False
        if self.verbose:
            print(
                f"No progress: learning rate {trainer.learning_rate:g} -> {reduced:g}"
            )
        trainer.learning_rate = reduced
        tracker.no_improvement_count = 0
        return True

    def _train_full_batch(self, trainer, train, validation, tracker, tasks):
        """L-BFGS on all training rows; one iteration is one epoch."""
        network, n_train = self.network_, train[1].shape[0]
        best = [network.snapshot()]
        started = [time.perf_counter()]

        def objective(coef):
            network.coef[...] = coef
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss, _ = trainer.loss_and_gradient(train)
            return loss, network.grad.astype(np.float64)

        def after_iteration(intermediate_result):
            network.coef[...] = intermediate_result.x
            loss = float(intermediate_result.fun)
            improved, stop = self._end_epoch(
                loss, started[0], n_train, validation, tracker
            )
            if improved:
                best[0] = network.snapshot()
            if tasks.end_epoch() or stop:
                raise StopIteration
            tasks.begin_epoch()
            started[0] = time.perf_counter()

        tasks.begin_epoch()
        result = self.optimizer_.minimize(
            objective, network.coef, self.max_iter, self.tol, after_iteration
        )
        network.coef[...] = result.x
        if result.status == 1 and self.n_iter_ >= self.max_iter:
            self._warn_not_converged(self.max_iter)
        return best[0]

    def _end_epoch(self, loss, start, n_train, validation, tracker):
        """Validate, record and judge one epoch; returns ``(improved, stop)``."""
        val_loss, score = self._validate(validation)
        improved = tracker.update(loss if score is None else score)
        seconds = time.perf_counter() - start
        self._record_epoch(
            loss, score, n_train, validation_loss=val_loss, seconds=seconds,
            is_best=improved,
        )  # fmt: skip
        self._record_best(tracker)
        return improved, tracker.no_improvement_count > self.n_iter_no_change

    def _split_validation(self, X, targets, sample_weight):
        """Hold out ``validation_fraction`` when early stopping."""
        if not self.early_stopping:
            return (X, targets, sample_weight), None
        stratify = self._stratify_labels(targets)
        arrays = [X, targets] + ([] if sample_weight is None else [sample_weight])
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        parts = train_test_split(
            *arrays,
            test_size=self.validation_fraction,
            random_state=seed,
            stratify=stratify,
        )
        train, held_out = parts[0::2], parts[1::2]
        if held_out[1].shape[0] < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves "
                f"{held_out[1].shape[0]} validation sample(s) out of "
                f"{targets.shape[0]}; early stopping needs at least 2. Increase "
                "validation_fraction or set early_stopping=False."
            )
        if sample_weight is None:
            train, held_out = train + [None], held_out + [None]
        return tuple(train), tuple(held_out)

    def _stratify_labels(self, targets):
        """Labels to stratify the validation split by (regressors: none)."""
        return None

    def _resolve_batch_size(self, n_samples):
        """``"auto"`` is ``min(200, n_samples)``; larger sizes are clipped."""
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"batch_size={self.batch_size} is larger than the {n_samples} "
                f"training samples; using batch_size={n_samples}.",
                UserWarning,
                stacklevel=3,
            )
        return min(self.batch_size, n_samples)

    def _record_epoch(
        self, loss, score, n_train, *, validation_loss=None, seconds=0.0, is_best=False
    ):
        """Append one epoch to the history and print its row when verbose."""
        self.n_iter_ += 1
        self.t_ += n_train
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if score is not None:
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(validation_loss)
        if self.verbose:
            validation = None if score is None else (validation_loss, score)
            print(epoch_row(self.n_iter_, loss, seconds, is_best, validation))

    def _print_best_epoch(self):
        """Close the verbose table with the best epoch of the history."""
        if not (self.verbose and self.loss_curve_):
            return
        if self.validation_scores_:
            best = int(np.argmax(self.validation_scores_))
            print(
                best_epoch_line(best + 1, "valid score", self.validation_scores_[best])
            )
        else:
            best = int(np.argmin(self.loss_curve_))
            print(best_epoch_line(best + 1, "train loss", self.loss_curve_[best]))

    def _record_best(self, tracker):
        """Copy the tracker's best value to the public attributes."""
        if tracker.use_score:
            self.best_validation_score_ = tracker.best
        else:
            self.best_loss_ = tracker.best

    def _validate(self, validation):
        """Loss (no L2 penalty) and score on ``(X, targets, sample_weight)``."""
        if validation is None:
            return None, None
        X, targets, sample_weight = validation
        output = self.network_.predict(X, PREDICT_CHUNK_ROWS)
        score = self._score_output(output, targets, sample_weight)
        return self.loss_function_.value(targets, output, sample_weight), score

    def _warn_not_converged(self, max_epochs):
        warnings.warn(
            f"Stopped after max_iter={max_epochs} epochs without converging "
            f"(loss still improving by more than tol={self.tol}). Increase "
            "max_iter, or raise tol.",
            ConvergenceWarning,
            stacklevel=3,
        )

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
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=["csr", "csc"],
            dtype=self.network_.dtype,
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        return self.network_.predict(X, PREDICT_CHUNK_ROWS)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _sk_visual_block_(self):
        """Show the layer stack as a serial block in the notebook HTML repr."""
        from sklearn.utils._repr_html.estimator import _VisualBlock

        layers = default_layers() if self.layers is None else list(self.layers)
        names = [f"{i}: {type(layer).__name__}" for i, layer in enumerate(layers)]
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
        state = super().__getstate__()
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


def _set_layer_params(layers, settings):
    """Return a new layer list with ``layers__<i>[__<name>]`` settings applied."""
    new_layers = list(default_layers() if layers is None else layers)
    changed = {}
    for key, value in settings.items():
        _, index_text, name = (key.split("__", 2) + [""])[:3]
        if not index_text.isdigit() or int(index_text) >= len(new_layers):
            raise ValueError(
                f"Invalid parameter {key!r}: there are {len(new_layers)} layers, "
                f"so use layers__0 to layers__{len(new_layers) - 1}."
            )
        index = int(index_text)
        if not name:
            new_layers[index] = value
            continue
        if index not in changed:
            changed[index] = new_layers[index] = clone(new_layers[index])
        new_layers[index].set_params(**{name: value})
    return new_layers


def _make_generator(random_state):
    """A NumPy Generator from ``random_state``, never drawing from the global one.

    ``None`` gives fresh OS entropy; an int seeds the generator; a
    ``RandomState`` instance gives one seed (and advances, as scikit-learn's
    estimators do).
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, Integral):
        return np.random.default_rng(int(random_state))
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


def _validate_components(layers, optimizer):
    """Check every layer's and the optimizer's settings; errors name the index."""
    check_layers(layers)
    for index, layer in enumerate(layers):
        layer.validate_params(f"layers[{index}] ({type(layer).__name__})")
    if isinstance(optimizer, Optimizer):
        optimizer.validate_params(f"optimizer ({type(optimizer).__name__})")


_CALLBACK_STATE = {
    "_skl_callbacks",
    "_skl_callbacks_to_teardown",
    "_parent_callback_ctx",
    "_callback_fit_ctx",
}


@contextmanager
def _rollback_on_error(estimator):
    """Leave ``estimator`` exactly as it was if the block raises.

    The fitted state (every attribute that is not a constructor parameter)
    is deep-copied first, so a failed ``fit`` or ``partial_fit`` (bad data,
    divergence) never damages a model fitted before, warm start included.
    """
    # scikit-learn's callback bookkeeping is not fitted state: it must survive
    # (same objects) so that the callbacks are torn down after a failure.
    params = set(estimator.get_params(deep=False)) | _CALLBACK_STATE
    saved = copy.deepcopy({k: v for k, v in vars(estimator).items() if k not in params})
    try:
        yield
    except BaseException:
        for key in [k for k in vars(estimator) if k not in params]:
            delattr(estimator, key)
        vars(estimator).update(saved)
        raise
