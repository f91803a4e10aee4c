"""What NNRegressor and NNClassifier share: parameters, fitting, predicting.

The estimators translate between scikit-learn and the engine: they validate
data, turn targets into arrays the loss understands (subclasses do that in
``_encode_targets``), copy the template ``layers`` into a fitted
:class:`~sknnlite.network.Network`, and drive the training loop.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .activations import ReLU
from .layers import Dense, Layer
from .network import Network
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .training import BatchGatherer, ImprovementTracker, Trainer

__all__ = ["BaseNN", "default_layers"]

#: Rows forwarded at once by ``predict``; bounds its extra memory.
PREDICT_CHUNK_ROWS = 4096


def default_layers():
    """The stack used when ``layers=None``: one hidden layer of 100 ReLUs."""
    return [Dense(100), ReLU(), Dense()]


class BaseNN(BaseEstimator):
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
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=not reuse
        )
        targets = self._encode_targets(y, sample_weight, reset=not reuse)
        targets = targets.astype(X.dtype, copy=False)
        sample_weight = self._weigh_samples(y, targets, sample_weight)
        if not reuse:
            self._initialize(X, targets)
        self._train(X, targets, sample_weight, max_epochs=self.max_iter)
        return self

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
        first = not hasattr(self, "network_")
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=first
        )
        targets = self._encode_targets(y, sample_weight, reset=first)
        targets = targets.astype(X.dtype, copy=False)
        sample_weight = self._weigh_samples(y, targets, sample_weight)
        if first:
            self._initialize(X, targets)
        self._train_one_pass(X, targets, sample_weight)
        return self

    def _train_one_pass(self, X, targets, sample_weight):
        """One epoch over all the given data, as ``partial_fit`` does."""
        n_train = targets.shape[0]
        gatherer, trainer = self._make_trainer((X, targets, sample_weight))
        order = self._rng.permutation(n_train) if self.shuffle else None
        loss = trainer.run_epoch(gatherer, order)
        self.network_.check_grads_bound()
        self._record_epoch(loss, None, n_train)
        if self.best_loss_ is not None:
            self.best_loss_ = min(self.best_loss_, loss)

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
            if not sample_weight.sum() > 0:
                raise ValueError(
                    "sample_weight sums to zero: no sample would be learned "
                    "from. Give at least one sample a positive weight."
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
        self.optimizer_ = get_optimizer(self.optimizer)
        self.optimizer_.initialize(self.network_.coef)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

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

    def _train(self, X, targets, sample_weight, max_epochs):
        """Run epochs until converged, stopped early or ``max_epochs`` done."""
        train, validation = self._split_validation(X, targets, sample_weight)
        n_train = train[1].shape[0]
        gatherer, trainer = self._make_trainer(train)
        tracker = ImprovementTracker(self.tol, use_score=validation is not None)
        best_coef = None
        for epoch in range(max_epochs):
            order = self._rng.permutation(n_train) if self.shuffle else None
            loss = trainer.run_epoch(gatherer, order)
            if epoch == 0:
                self.network_.check_grads_bound()
            score = None if validation is None else self._validation_score(*validation)
            self._record_epoch(loss, score, n_train)
            improved = tracker.update(loss if score is None else score)
            if improved and score is not None:
                best_coef = self.network_.coef.copy()
            self._record_best(tracker)
            if tracker.no_improvement_count > self.n_iter_no_change:
                break
        else:
            self._warn_not_converged(max_epochs)
        if best_coef is not None:
            self.network_.coef[...] = best_coef

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

    def _record_epoch(self, loss, score, n_train):
        """Append one epoch to the history and print it when verbose."""
        self.n_iter_ += 1
        self.t_ += n_train
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if score is not None:
            self.validation_scores_.append(score)
        if self.verbose:
            extra = "" if score is None else f", validation score = {score:.6f}"
            print(f"Epoch {self.n_iter_}, loss = {loss:.8f}{extra}")

    def _record_best(self, tracker):
        """Copy the tracker's best value to the public attributes."""
        if tracker.use_score:
            self.best_validation_score_ = tracker.best
        else:
            self.best_loss_ = tracker.best

    def _validation_score(self, X, targets, sample_weight):
        """Score of the current weights on the held-out data."""
        output = self.network_.predict(X, PREDICT_CHUNK_ROWS)
        return self._score_output(output, targets, sample_weight)

    def _warn_not_converged(self, max_epochs):
        warnings.warn(
            f"Stopped after max_iter={max_epochs} epochs without converging "
            f"(loss still improving by more than tol={self.tol}). Increase "
            "max_iter, or raise tol.",
            ConvergenceWarning,
            stacklevel=3,
        )

    # ----------------------------------------------------------- predicting
    def _forward(self, X):
        """Validated network output for ``X``, computed in chunks."""
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
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layers[{index}] is a {type(layer).__name__} ({layer!r}), not a "
                "Layer. Every element of layers must be a sknnlite layer such as "
                "Dense(64) or ReLU()."
            )
        layer.validate_params(f"layers[{index}] ({type(layer).__name__})")
    if isinstance(optimizer, Optimizer):
        optimizer.validate_params(f"optimizer ({type(optimizer).__name__})")
