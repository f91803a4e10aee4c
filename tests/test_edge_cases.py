"""Branches that ordinary fits never take, each checked on the value it produces.

Early stopping with weights, multilabel targets across calls, zero-weight
batches, losses that overflow mid-epoch, divergence inside ``partial_fit``,
``Dropout`` or ``BatchNorm`` as the first layer and ``Dense(units=None)``
where it is not allowed.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import (
    make_blobs,
    make_friedman1,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from sknnlite import SGD, BatchNorm, Dense, Dropout, NNClassifier, NNRegressor, ReLU
from sknnlite.exceptions import DivergenceWarning

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    centers = [[0, 0], [4, 4], [-4, 4]]  # well apart: a perfect fit exists
    X, y = make_blobs(n_samples=120, centers=centers, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=120, random_state=0)
    return StandardScaler().fit_transform(X), y


def _classifier(**params):
    settings = dict(
        layers=[Dense(16), ReLU(), Dense()], learning_rate=0.01, max_iter=60,
        random_state=0,
    )  # fmt: skip
    settings.update(params)
    return NNClassifier(**settings)


def _regressor(**params):
    settings = dict(
        layers=[Dense(16), ReLU(), Dense()], learning_rate=0.01, max_iter=60,
        random_state=0,
    )  # fmt: skip
    settings.update(params)
    return NNRegressor(**settings)


def _untrained(model, X, y):
    """The same model with its initial weights (updates that round to nothing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.set_params(learning_rate=1e-300, max_iter=1).fit(X, y)


# ------------------------------------------------ early stopping and weights
def test_early_stopping_classifier_trains_and_validates_with_sample_weight(blobs):
    # Every row appears twice: once with its label and weight 1, once with a
    # wrong label and weight 0. Weighted training and weighted validation see
    # only the right labels; ignoring the weights anywhere gives a coin toss.
    # Only the 120 rows of weight 1 are split: 30 are held out.
    X, y = blobs
    X2, y2 = np.vstack([X, X]), np.r_[y, (y + 1) % 3]
    weights = np.r_[np.ones(len(y)), np.zeros(len(y))]
    model = _classifier(early_stopping=True, validation_fraction=0.25)
    model.fit(X2, y2, sample_weight=weights)
    assert model.best_validation_score_ >= 29 / 30
    assert model.score(X, y) > 0.95


def test_early_stopping_regressor_trains_and_validates_with_sample_weight():
    X, y = make_regression(n_samples=120, n_features=3, noise=1.0, random_state=0)
    X2, y2 = np.vstack([X, X]), np.r_[y, -3 * y]
    weights = np.r_[np.ones(len(y)), np.zeros(len(y))]
    model = _regressor(early_stopping=True, validation_fraction=0.25, max_iter=200)
    model.fit(X2, y2, sample_weight=weights)
    assert model.best_validation_score_ > 0.9
    assert model.score(X, y) > 0.9


def test_early_stopping_validation_accuracy_is_weighted_by_class_weight(blobs):
    # Class 2 weighs nothing: the model never learns it, and the weighted
    # validation accuracy does not count its rows against the model.
    X, y = blobs
    model = _classifier(
        early_stopping=True, validation_fraction=0.25, class_weight={2: 0.0},
        random_state=3,
    ).fit(X, y)  # fmt: skip
    assert model.best_validation_score_ == 1.0
    assert np.mean(model.predict(X) == 2) < 0.05
    # It learns the classes that weigh something. (Early stopping keeps the
    # first epoch whose weighted validation accuracy is 1.0, so a few training
    # rows may still be misclassified there.)
    weighed = y != 2
    assert model.score(X[weighed], y[weighed]) >= 0.9


# ------------------------------------------------------------------ multilabel
@pytest.fixture(scope="module")
def multilabel():
    X, Y = make_multilabel_classification(n_samples=100, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), Y


def test_multilabel_early_stopping_scores_subset_accuracy(multilabel):
    X, Y = multilabel
    model = _classifier(early_stopping=True, validation_fraction=0.2, max_iter=100)
    model.fit(X, Y)
    scores = np.array(model.validation_scores_)
    assert len(scores) == model.n_iter_ < 100
    # 20 held-out rows: subset accuracy is a multiple of 1/20 (label-wise
    # accuracy would be a multiple of 1/60).
    np.testing.assert_allclose(scores * 20, np.round(scores * 20), atol=1e-9)
    assert model.best_validation_score_ == scores.max() > scores[0]


def test_multilabel_second_partial_fit_trains_on_the_same_encoding(multilabel):
    X, Y = multilabel
    model = _classifier().partial_fit(X, Y, classes=[0, 1, 2])
    model.set_params(learning_rate=1e-300, alpha=0.0).partial_fit(X, Y)
    proba = model.predict_proba(X)
    expected = sum(log_loss(Y[:, j], proba[:, j]) for j in range(3))
    assert model.n_iter_ == 2
    assert model.loss_curve_[1] == pytest.approx(expected, rel=1e-10)


def test_switching_between_multilabel_and_1d_targets_is_refused(multilabel):
    X, Y = multilabel
    labels = Y.argmax(axis=1)
    multi = _classifier(warm_start=True, max_iter=2).fit(X, Y)
    with pytest.raises(ValueError, match="fitted on a multilabel y with 3 labels"):
        multi.partial_fit(X, labels)
    with pytest.raises(ValueError, match="fitted on a multilabel y with 3 labels"):
        multi.partial_fit(X, Y[:, :2])
    with pytest.raises(ValueError, match="fitted on a multilabel y with 3 labels"):
        multi.fit(X, labels)
    single = _classifier(warm_start=True, max_iter=2).fit(X, labels)
    with pytest.raises(ValueError, match="fitted on a 1-D y of class labels"):
        single.partial_fit(X, Y)
    with pytest.raises(ValueError, match="fitted on a 1-D y of class labels"):
        single.fit(X, Y)
    assert multi.n_iter_ == single.n_iter_ == 2  # the refused calls trained nothing


# ------------------------------------------------------------- zero weights
def test_a_batch_of_zero_weight_equals_dropping_its_rows(friedman):
    X, y = friedman
    weights = np.r_[np.zeros(40), np.ones(80)]
    settings = dict(shuffle=False, batch_size=40, max_iter=5)
    weighted = _regressor(**settings).fit(X, y, sample_weight=weights)
    dropped = _regressor(**settings).fit(X[40:], y[40:])
    np.testing.assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-10)


# ---------------------------------------------------------------- divergence
@pytest.fixture(scope="module")
def unscaled():
    X, y = make_friedman1(n_samples=100, random_state=0)
    return 100 * X + 50, y


def test_a_loss_that_overflows_mid_epoch_is_reported_once(unscaled):
    # The first batch's step sends the weights to ~1e200; the next batch's
    # loss overflows to inf in the middle of the epoch.
    X, y = unscaled
    settings = dict(optimizer=SGD(momentum=0.0), batch_size=10, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _regressor(**settings, learning_rate=1e-7).fit(X, y)
    before = model.predict(X)
    model.set_params(learning_rate=1e200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(DivergenceWarning, match="learning_rate") as caught:
            model.fit(X, y)
    assert len(caught) == 1
    assert all(np.isfinite(model.loss_curve_))
    np.testing.assert_array_equal(model.predict(X), before)


def test_a_new_model_that_overflows_in_its_first_epoch_raises(unscaled):
    X, y = unscaled
    settings = dict(optimizer=SGD(momentum=0.0), learning_rate=1e200, batch_size=10)
    model = _regressor(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the way: one clear error
        with pytest.raises(ValueError, match="before finishing one epoch"):
            model.fit(X, y)
    assert not hasattr(model, "network_")


def test_divergence_inside_partial_fit_warns_and_keeps_a_usable_model(unscaled):
    X, y = unscaled
    model = _regressor(batch_size=20)
    for _ in range(5):
        model.partial_fit(X, y)
    model.set_params(learning_rate=1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(DivergenceWarning, match="learning_rate"):
            model.partial_fit(X, y)
    assert np.all(np.isfinite(model.predict(X)))
    untrained = _untrained(_regressor(batch_size=20), X, y)
    assert model.score(X, y) >= untrained.score(X, y) - 1e-9


# -------------------------------------------------------- unusual first layers
def test_dropout_as_first_layer_treats_weights_as_repeated_rows():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(15, 4)), rng.normal(size=15)
    weights = rng.integers(0, 4, size=15)
    layers = [Dropout(0.3), Dense(16), ReLU(), Dense()]
    weighted = _regressor(layers=layers, batch_size=15, max_iter=20)
    weighted.fit(X, y, sample_weight=weights.astype(float))
    repeated = _regressor(layers=layers, batch_size=int(weights.sum()), max_iter=20)
    repeated.fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-9)
    no_dropout = _regressor(layers=layers[1:], batch_size=15, max_iter=20)
    no_dropout.fit(X, y, sample_weight=weights.astype(float))
    assert not np.allclose(weighted.loss_curve_, no_dropout.loss_curve_)


def test_batchnorm_as_first_layer_standardises_raw_features(unscaled):
    X, y = unscaled
    model = _regressor(layers=[BatchNorm(), Dense(16), ReLU(), Dense()], max_iter=150)
    model.fit(X, y)
    norm = model.layers_[0]
    np.testing.assert_allclose(norm.running_mean_, X.mean(axis=0), rtol=0.05)
    assert model.score(X, y) > 0.8


def test_dense_without_units_before_the_last_dense_is_refused():
    with pytest.raises(ValueError, match=r"Dense\(units=None\) is only allowed as"):
        NNRegressor([Dense(), ReLU(), Dense()]).fit(np.ones((4, 2)), np.ones(4))
