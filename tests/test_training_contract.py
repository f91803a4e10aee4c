"""What training promises, checked through fitted attributes only.

These tests pin the behaviour that the training loop must keep whatever its
shape: when it stops (MLPRegressor's rule), what it records, which weights it
keeps, the objective it minimises (loss, L2 penalty and sample weights) and
how targets and classes are encoded. They read only public attributes
(``n_iter_``, ``loss_curve_``, ``validation_scores_``, ``coefs_``,
``network_.coef`` ...) and predictions, never a private method, so they
survive a rewrite of the loop.

Two tricks recur:

* ``learning_rate=1e-300`` makes every update round to nothing, so a fit
  records the loss of weights that are known afterwards (``coefs_``).
* ``SGD(momentum=0)`` on one full batch makes one epoch exactly
  ``coef -= learning_rate * gradient``, so the gradient that training used
  can be read back from the change of ``network_.coef``.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_friedman1, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from sknnlite import (
    SGD,
    BatchNorm,
    Dense,
    NNClassifier,
    NNRegressor,
    ReLU,
    SigmoidCrossEntropy,
    SoftmaxCrossEntropy,
    Tanh,
)

FROZEN = 1e-300  # a learning rate whose updates round to nothing
PLAIN_SGD = SGD(momentum=0.0, nesterov=False)


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=120, noise=0.3, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=90, centers=3, cluster_std=2.0, random_state=0)
    return StandardScaler().fit_transform(X), y


def _quiet_fit(model, *args, **kwargs):
    """Fit, ignoring ConvergenceWarnings (max_iter reached, no progress)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _frozen(estimator, **params):
    """One epoch that leaves the weights as initialised (one batch up to 200 rows)."""
    settings = dict(
        learning_rate=FROZEN, max_iter=1, batch_size="auto", shuffle=False,
        random_state=0,
    )  # fmt: skip
    settings.update(params)
    return estimator(**settings)


# ---------------------------------------------------------------- stopping rule
def _mlp_stopping_epoch(values, tol, n_iter_no_change, higher_is_better):
    """Epoch at which MLP's rule stops on this history (None: it never does).

    A copy of ``MLPRegressor._update_no_improvement_count`` and its check
    ``_no_improvement_count > n_iter_no_change``.
    """
    best, count = (-np.inf, 0) if higher_is_better else (np.inf, 0)
    for epoch, value in enumerate(values, start=1):
        if higher_is_better:
            count = count + 1 if value < best + tol else 0
            best = max(best, value)
        else:
            count = count + 1 if value > best - tol else 0
            best = min(best, value)
        if count > n_iter_no_change:
            return epoch
    return None


# A huge tol stops after a handful of epochs, on a network no better than a
# constant yet: the warning that says so is expected.
@pytest.mark.filterwarnings(
    "ignore:The fitted network fits:sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("n_iter_no_change", [1, 2, 5])
def test_regressor_stops_at_the_epoch_mlp_regressor_stops_at(
    friedman, n_iter_no_change, early_stopping
):
    # A huge tol: no epoch after the first counts as progress, so the stopping
    # epoch is fixed by the rule alone (n_iter_no_change + 2 for MLP).
    X, y = friedman
    common = dict(
        tol=1e9, n_iter_no_change=n_iter_no_change, max_iter=50,
        early_stopping=early_stopping, random_state=0,
    )  # fmt: skip
    ours = NNRegressor([Dense(8), ReLU(), Dense()], **common).fit(X, y)
    mlp = MLPRegressor(hidden_layer_sizes=(8,), **common).fit(X, y)
    assert ours.n_iter_ == mlp.n_iter_ == n_iter_no_change + 2
    assert len(ours.loss_curve_) == ours.n_iter_


# A huge tol stops after a handful of epochs, on a network no better than a
# constant yet: the warning that says so is expected.
@pytest.mark.filterwarnings(
    "ignore:The fitted network fits:sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_classifier_stops_at_the_epoch_mlp_classifier_stops_at(
    blobs, n_iter_no_change, early_stopping
):
    X, y = blobs
    common = dict(
        tol=1e9, n_iter_no_change=n_iter_no_change, max_iter=50,
        early_stopping=early_stopping, random_state=0,
    )  # fmt: skip
    ours = NNClassifier([Dense(8), ReLU(), Dense()], **common).fit(X, y)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), **common).fit(X, y)
    assert ours.n_iter_ == mlp.n_iter_ == n_iter_no_change + 2


@pytest.mark.parametrize("n_iter_no_change", [2, 4])
def test_training_loss_rule_stops_where_mlp_rule_stops_on_the_recorded_curve(
    friedman, n_iter_no_change
):
    X, y = friedman
    tol = 2e-3
    model = NNRegressor(
        [Dense(8), ReLU(), Dense()], learning_rate=0.01, tol=tol, max_iter=300,
        n_iter_no_change=n_iter_no_change, random_state=0,
    ).fit(X, y)  # fmt: skip
    expected = _mlp_stopping_epoch(model.loss_curve_, tol, n_iter_no_change, False)
    assert expected == model.n_iter_ < 300
    assert model.best_loss_ == min(model.loss_curve_)


@pytest.mark.parametrize("estimator", [NNRegressor, NNClassifier])
def test_validation_score_rule_stops_where_mlp_rule_stops_on_the_recorded_scores(
    friedman, blobs, estimator
):
    X, y = friedman if estimator is NNRegressor else blobs
    tol, patience = 1e-3, 3
    model = estimator(
        [Dense(8), ReLU(), Dense()], learning_rate=0.01, tol=tol, max_iter=300,
        n_iter_no_change=patience, early_stopping=True, validation_fraction=0.25,
        random_state=0,
    )  # fmt: skip
    # The rule may stop the classifier (22 validation rows) before it beats a
    # constant, which the loop rightly warns about; this test is about the rule.
    _quiet_fit(model, X, y)
    scores = model.validation_scores_
    assert _mlp_stopping_epoch(scores, tol, patience, True) == model.n_iter_ < 300
    assert model.best_validation_score_ == max(scores)


# -------------------------------------------------------------- histories
def test_warm_started_early_stopping_fits_extend_the_validation_history(friedman):
    X, y = friedman
    model = NNRegressor(
        [Dense(8), ReLU(), Dense()], learning_rate=0.01, max_iter=4,
        early_stopping=True, warm_start=True, random_state=0,
    )  # fmt: skip
    _quiet_fit(model, X, y)
    first_scores = list(model.validation_scores_)
    first_losses = list(model.validation_loss_curve_)
    _quiet_fit(model, X, y)
    _quiet_fit(model, X, y)
    assert model.n_iter_ == len(model.loss_curve_) == 12
    assert len(model.validation_scores_) == len(model.validation_loss_curve_) == 12
    assert model.validation_scores_[:4] == first_scores
    assert model.validation_loss_curve_[:4] == first_losses


# ----------------------------------------------------- the loss that training uses
def _one_hot(y, classes):
    return (np.asarray(y)[:, None] == classes[None, :]).astype(float)


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_training_loss_is_sklearn_log_loss(blobs, weighted):
    X, y = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    weights = np.linspace(0.2, 3.0, len(y)) if weighted else None
    model = _frozen(NNClassifier, layers=[Dense(6), Tanh(), Dense()], alpha=0.0)
    _quiet_fit(model, X, labels, sample_weight=weights)
    assert isinstance(model.loss_function_, SoftmaxCrossEntropy)
    proba = model.predict_proba(X)
    expected = log_loss(labels, proba, sample_weight=weights, labels=model.classes_)
    assert model.loss_curve_[0] == pytest.approx(expected, rel=1e-10)
    logits = model.decision_function(X)
    value = model.loss_function_.value(_one_hot(labels, model.classes_), logits)
    assert value == pytest.approx(log_loss(labels, proba), rel=1e-10)


def test_binary_training_loss_is_sklearn_log_loss(blobs):
    X, y = blobs
    labels = np.where(y == 1, "yes", "no")
    model = _frozen(NNClassifier, layers=[Dense(6), Tanh(), Dense()], alpha=0.0)
    _quiet_fit(model, X, labels)
    assert isinstance(model.loss_function_, SigmoidCrossEntropy)
    assert model.n_outputs_ == 1
    expected = log_loss(labels, model.predict_proba(X))
    assert model.loss_curve_[0] == pytest.approx(expected, rel=1e-10)


def test_multilabel_training_loss_sums_one_log_loss_per_label():
    X, Y = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    model = _frozen(NNClassifier, layers=[Dense(6), Tanh(), Dense()], alpha=0.0)
    _quiet_fit(model, StandardScaler().fit_transform(X), Y)
    proba = model.predict_proba(StandardScaler().fit_transform(X))
    expected = sum(log_loss(Y[:, j], proba[:, j], labels=[0, 1]) for j in range(3))
    assert isinstance(model.loss_function_, SigmoidCrossEntropy)
    assert model.loss_curve_[0] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_step_moves_the_output_bias_by_the_cross_entropy_gradient(n_classes):
    # d loss / d b_k = mean over samples of (p_k - y_k): softmax p for
    # multiclass, sigmoid for binary. A loss of the other kind moves it
    # differently.
    X, y = make_blobs(n_samples=60, centers=n_classes, random_state=1)
    X = StandardScaler().fit_transform(X)
    model = _frozen(
        NNClassifier, layers=[Dense(5), Tanh(), Dense()], optimizer=PLAIN_SGD,
        warm_start=True, alpha=0.0,
    )  # fmt: skip
    _quiet_fit(model, X, y)
    before = model.intercepts_[-1].copy()
    proba = model.predict_proba(X)
    _quiet_fit(model.set_params(learning_rate=0.1), X, y)
    step = (before - model.intercepts_[-1]) / 0.1
    if n_classes == 2:
        expected = [np.mean(proba[:, 1] - y)]
    else:
        expected = np.mean(proba - _one_hot(y, np.arange(n_classes)), axis=0)
    np.testing.assert_allclose(step, expected, rtol=1e-7, atol=1e-12)


# ---------------------------------------------------------------- class weights
def test_balanced_class_weight_counts_sample_weight_as_compute_class_weight(blobs):
    X, y = blobs
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:8]]
    X, y = X[keep], y[keep]  # class 2 is rare
    sample_weight = np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))
    balanced = NNClassifier(
        [Dense(8), ReLU(), Dense()], max_iter=5, class_weight="balanced",
        random_state=0,
    )  # fmt: skip
    _quiet_fit(balanced, X, y, sample_weight=sample_weight)
    per_class = compute_class_weight(
        "balanced", classes=np.arange(3), y=y, sample_weight=sample_weight
    )
    plain = NNClassifier([Dense(8), ReLU(), Dense()], max_iter=5, random_state=0)
    _quiet_fit(plain, X, y, sample_weight=sample_weight * per_class[y])
    np.testing.assert_array_equal(balanced.network_.coef, plain.network_.coef)
    assert balanced.loss_curve_ == plain.loss_curve_


# ---------------------------------------------------------------- target scaling
def test_target_statistics_are_fixed_by_the_first_fit(friedman):
    X, y = friedman
    model = NNRegressor(
        [Dense(8), ReLU(), Dense()], max_iter=20, learning_rate=0.01,
        random_state=0, warm_start=True,
    )  # fmt: skip
    _quiet_fit(model, X, y)
    mean, scale = model.target_center_.copy(), model.target_scale_.copy()
    np.testing.assert_allclose(mean, [y.mean()])
    np.testing.assert_allclose(scale, [y.std()])
    before = model.predict(X)
    model.set_params(learning_rate=FROZEN)
    model.partial_fit(X, 10 * y + 1000)
    np.testing.assert_array_equal(model.target_center_, mean)
    np.testing.assert_array_equal(model.target_scale_, scale)
    np.testing.assert_allclose(model.predict(X), before, rtol=1e-12)
    _quiet_fit(model, X, -y - 500)  # a warm-started fit keeps them too
    np.testing.assert_array_equal(model.target_center_, mean)
    np.testing.assert_array_equal(model.target_scale_, scale)
    np.testing.assert_allclose(model.predict(X), before, rtol=1e-12)


def test_partial_fit_on_shifted_targets_moves_predictions_towards_them(friedman):
    X, y = friedman
    model = NNRegressor(
        [Dense(16), ReLU(), Dense()], learning_rate=0.01, random_state=0
    ).partial_fit(X, y)
    for _ in range(30):
        model.partial_fit(X, y + 5.0)
    shift = np.mean(model.predict(X) - y)
    assert shift == pytest.approx(5.0, abs=0.5)
    assert model.target_center_[0] == pytest.approx(y.mean())


# ------------------------------------------------------ restoring the best epoch
@pytest.fixture(scope="module")
def overfitting():
    """Few noisy rows and a wide network: the validation score peaks early."""
    X, y = make_friedman1(n_samples=60, noise=3.0, random_state=3)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "optimizer, settings",
    [("lbfgs", {}), ("adam", {"learning_rate": 0.03})],
)
def test_early_stopping_keeps_the_weights_of_the_best_epoch(
    overfitting, optimizer, settings
):
    X, y = overfitting
    common = dict(
        layers=[Dense(64), Tanh(), Dense()], optimizer=optimizer, alpha=0.0,
        early_stopping=True, validation_fraction=0.3, n_iter_no_change=8,
        max_iter=200, random_state=0, **settings,
    )  # fmt: skip
    long = _quiet_fit(NNRegressor(**common), X, y)
    best = int(np.argmax(long.validation_scores_)) + 1
    assert best <= long.n_iter_ - 5, "the data must make the best epoch early"
    # Training again for exactly `best` epochs ends on the best weights.
    short = _quiet_fit(NNRegressor(**{**common, "max_iter": best}), X, y)
    assert short.validation_scores_ == long.validation_scores_[:best]
    np.testing.assert_allclose(long.predict(X), short.predict(X), rtol=1e-10)
    assert long.best_validation_score_ == max(long.validation_scores_)
    # ... and those are trained weights, not the initial ones.
    untrained = _quiet_fit(_frozen(NNRegressor, layers=common["layers"]), X, y)
    assert long.score(X, y) > untrained.score(X, y) + 0.5


# ------------------------------------------------- the objective: loss + penalty
def _squared_error_on_scaled_target(model, X, y, sample_weight):
    """Half the mean squared error in units of the fitted target scale."""
    residual = (model.predict(X) - y) / model.target_scale_[0]
    return 0.5 * np.average(residual**2, weights=sample_weight)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("batch_size", [120, 50])
def test_recorded_loss_is_data_loss_plus_penalty_over_batch_weight(
    friedman, alpha, weighted, batch_size
):
    # Per batch b, the loss is the b's weighted data loss plus the penalty
    # 0.5 * alpha * |W|^2 / weight(b) (as MLP divides by the batch size or its
    # weight sum); the epoch loss averages the batches by their rows, as MLP's
    # accumulated_loss does. Unweighted, that is the data loss over all rows
    # plus 0.5 * alpha * n_batches * |W|^2 / n_rows.
    X, y = friedman
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y)) if weighted else None
    model = _frozen(
        NNRegressor, layers=[Dense(6), Tanh(), Dense()], alpha=alpha,
        batch_size=batch_size,
    )  # fmt: skip
    _quiet_fit(model, X, y, sample_weight=weights)
    squared_norm = sum(float(np.sum(W**2)) for W in model.coefs_)
    w = np.ones(len(y)) if weights is None else weights
    expected = 0.0
    for start in range(0, len(y), batch_size):  # shuffle=False: rows in order
        rows = slice(start, start + batch_size)
        data_loss = _squared_error_on_scaled_target(model, X[rows], y[rows], w[rows])
        penalty = 0.5 * alpha * squared_norm / w[rows].sum()
        expected += (data_loss + penalty) * len(y[rows])
    assert model.loss_curve_[0] == pytest.approx(expected / len(y), rel=1e-10)
    if not weighted:
        n_batches = -(-len(y) // batch_size)
        whole = _squared_error_on_scaled_target(model, X, y, None)
        penalty = 0.5 * alpha * n_batches * squared_norm / len(y)
        assert model.loss_curve_[0] == pytest.approx(whole + penalty, rel=1e-10)


def _recorded_loss(model, X, y, sample_weight):
    """Loss that a warm-started, frozen epoch records at ``network_.coef``."""
    start = model.network_.coef.copy()
    _quiet_fit(model.set_params(learning_rate=FROZEN), X, y, sample_weight)
    model.network_.coef[...] = start
    return model.loss_curve_[-1]


def _training_gradient(model, X, y, sample_weight, step=1e-4):
    """Gradient read back from one plain SGD step over the full batch."""
    start = model.network_.coef.copy()
    _quiet_fit(model.set_params(learning_rate=step), X, y, sample_weight)
    gradient = (start - model.network_.coef) / step
    model.network_.coef[...] = start
    return gradient


@pytest.mark.parametrize(
    "estimator, layers",
    [
        (NNRegressor, [Dense(3), Tanh(), Dense()]),
        (NNRegressor, [BatchNorm(), Dense(3), Tanh(), Dense()]),
        (NNClassifier, [Dense(3), Tanh(), Dense()]),
    ],
    ids=["regressor", "batchnorm-first", "classifier"],
)
def test_training_gradient_matches_finite_differences_of_the_recorded_loss(
    estimator, layers
):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0] - X[:, 1] ** 2 if estimator is NNRegressor else rng.integers(0, 3, 12)
    weights = rng.uniform(0.2, 2.0, size=12)
    model = _frozen(estimator, layers=layers, optimizer=PLAIN_SGD, alpha=0.3)
    _quiet_fit(model.set_params(warm_start=True), X, y, sample_weight=weights)
    gradient = _training_gradient(model, X, y, weights)
    coef, eps, numeric = model.network_.coef, 1e-6, np.zeros_like(gradient)
    for index in range(coef.size):
        original = coef[index]
        coef[index] = original + eps
        upper = _recorded_loss(model, X, y, weights)
        coef[index] = original - eps
        lower = _recorded_loss(model, X, y, weights)
        coef[index] = original
        numeric[index] = (upper - lower) / (2 * eps)
    assert np.linalg.norm(gradient) > 1e-3
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-8)
