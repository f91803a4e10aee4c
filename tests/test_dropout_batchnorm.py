"""Dropout and BatchNorm: training vs predict, reproducibility, state, persistence."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sknnlite import BatchNorm, Dense, Dropout, NNRegressor, ReLU
from sknnlite.layers import build_layer


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=200, random_state=0)
    return StandardScaler().fit_transform(X), y


def _model(**params):
    settings = dict(
        layers=[Dense(16), BatchNorm(), ReLU(), Dropout(0.2), Dense()],
        learning_rate=0.01,
        max_iter=5,
        batch_size=50,
        random_state=0,
    )
    settings.update(params)
    return NNRegressor(**settings)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_dropout_zeroes_a_rate_share_and_rescales_only_while_training():
    layer = Dropout(0.25)
    build_layer(layer, 200, np.random.default_rng(0), np.float64)
    x = np.ones((100, 200))
    out = layer.forward(x, training=True)
    assert np.mean(out == 0) == pytest.approx(0.25, abs=0.01)
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad, out)
    assert layer.forward(x, training=False) is x


def test_dropout_rate_is_validated_by_name(friedman):
    with pytest.raises(ValueError, match=r"rate.*layers\[3\] \(Dropout\)"):
        _model(layers=[Dense(4), BatchNorm(), ReLU(), Dropout(1.0), Dense()]).fit(
            *friedman
        )


def test_dropout_fits_are_reproducible_and_seed_dependent(friedman):
    X, y = friedman
    first, second = _model().fit(X, y), _model().fit(X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    other = _model(random_state=1).fit(X, y)
    assert not np.allclose(first.predict(X), other.predict(X))
    no_dropout = _model().set_params(layers__3__rate=0.0).fit(X, y)
    assert not np.allclose(first.predict(X), no_dropout.predict(X))


def test_pickled_model_continues_with_the_same_masks(friedman):
    X, y = friedman
    model = _model().fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    assert isinstance(restored.layers_[3].rng_, np.random.Generator)
    model.partial_fit(X, y)
    restored.partial_fit(X, y)
    np.testing.assert_array_equal(model.predict(X), restored.predict(X))


def test_batchnorm_normalises_batches_and_tracks_running_statistics():
    rng = np.random.default_rng(0)
    layer = BatchNorm(momentum=0.5)
    build_layer(layer, 3, rng, np.float64)
    x = rng.normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 1.0], size=(400, 3))
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    for _ in range(30):
        layer.forward(x, training=True)
    np.testing.assert_allclose(layer.running_mean_, x.mean(axis=0))
    np.testing.assert_allclose(layer.running_var_, x.var(axis=0))
    single = layer.forward(x[:1], training=False)
    np.testing.assert_allclose(single, out[:1], atol=1e-4)


def test_batchnorm_weights_equal_repeated_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3))
    weights = np.array([0.0, 1.0, 3.0, 2.0, 1.0, 1.0])
    weighted, repeated = BatchNorm(), BatchNorm()
    for layer in (weighted, repeated):
        build_layer(layer, 3, np.random.default_rng(0), np.float64)
    out_w = weighted.forward(x, training=True, sample_weight=weights)
    out_r = repeated.forward(np.repeat(x, weights.astype(int), 0), training=True)
    np.testing.assert_allclose(np.repeat(out_w, weights.astype(int), 0), out_r)
    np.testing.assert_allclose(weighted.running_var_, repeated.running_var_)


def test_batchnorm_scale_and_shift_are_trained_undecayed_parameters(friedman):
    model = _model().fit(*friedman)
    norm = model.layers_[1]
    assert set(norm.params) == {"gamma", "beta"} and norm.decayed == []
    assert np.shares_memory(norm.params["gamma"], model.network_.coef)
    assert not np.allclose(norm.params["gamma"], 1.0)
    assert not np.allclose(norm.running_mean_, 0.0)


def test_warm_start_and_partial_fit_keep_updating_running_statistics(friedman):
    X, y = friedman
    model = _model(warm_start=True).fit(X, y)
    before = model.layers_[1].running_mean_.copy()
    assert model.fit(X, y).layers_[1] is model.network_.layers[1]
    after_warm = model.layers_[1].running_mean_.copy()
    assert not np.allclose(before, after_warm)
    model.partial_fit(X[:50], y[:50])
    assert not np.allclose(after_warm, model.layers_[1].running_mean_)
    cold = _model().fit(X, y)
    np.testing.assert_array_equal(cold.layers_[1].running_mean_, before)


def test_pickle_keeps_running_statistics_and_predictions(friedman):
    X, y = friedman
    model = _model().fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        restored.layers_[1].running_var_, model.layers_[1].running_var_
    )
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_early_stopping_restores_running_statistics_of_the_best_epoch(friedman):
    X, y = friedman
    model = _model(early_stopping=True, max_iter=40, n_iter_no_change=3)
    seen = {}

    def remember(self, *args, _score=NNRegressor._score_output, **kwargs):
        score = _score(self, *args, **kwargs)
        norm = self.network_.layers[1]
        seen[score] = (self.network_.coef.copy(), norm.running_mean_.copy())
        return score

    NNRegressor._score_output, original = remember, NNRegressor._score_output
    try:
        model.fit(X, y)
    finally:
        NNRegressor._score_output = original
    best_coef, best_mean = seen[model.best_validation_score_]
    assert model.validation_scores_[-1] < model.best_validation_score_
    np.testing.assert_array_equal(model.network_.coef, best_coef)
    np.testing.assert_array_equal(model.layers_[1].running_mean_, best_mean)


def test_weighted_and_repeated_dropout_fits_are_identical():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(15, 4)), rng.normal(size=15)
    weights = rng.integers(0, 4, size=15)
    model = _model(layers=[Dense(16), ReLU(), Dropout(0.3), Dense()], max_iter=30)
    weighted = clone(model).set_params(batch_size=15)
    weighted.fit(X, y, sample_weight=weights.astype(float))
    repeated = clone(model).set_params(batch_size=int(weights.sum()))
    repeated.fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-9)


def test_network_dropout_masks_follow_rows_not_positions():
    rng = np.random.default_rng(0)
    model = _model(
        layers=[Dense(300), Dropout(0.25), Dense()], max_iter=1, batch_size=40
    )
    X = rng.normal(size=(40, 5))
    model.fit(X, rng.normal(size=40))
    network, dropout = model.network_, model.layers_[1]
    batch = np.vstack([X[:20], X[:20]])  # every row twice
    network.forward(batch, training=True)
    keep = dropout._mask_in_use != 0
    np.testing.assert_array_equal(keep[:20], keep[20:])
    assert np.mean(~keep) == pytest.approx(0.25, abs=0.02)
    distinct_rows_agree = np.mean(keep[:10] == keep[10:20])
    assert distinct_rows_agree == pytest.approx(0.25**2 + 0.75**2, abs=0.03)
    network.forward(batch, training=True)
    assert np.mean((dropout._mask_in_use != 0) == keep) < 0.7  # new step, new masks
