"""NNRegressor with scikit-learn's own tools, the way users combine them."""

import io
import pickle
import tracemalloc
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_friedman1
from sklearn.ensemble import StackingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.linear_model import Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
    learning_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

from sknnlite import Adam, Dense, NNRegressor, ReLU, Tanh
from sknnlite.exceptions import SknnliteVersionWarning

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_friedman1(n_samples=240, random_state=0)
    return StandardScaler().fit_transform(X), y


def _model(**params):
    settings = dict(
        layers=[Dense(16), ReLU(), Dense()],
        learning_rate=0.01,
        max_iter=40,
        random_state=0,
    )
    settings.update(params)
    return NNRegressor(**settings)


@pytest.mark.parametrize("search_class", [GridSearchCV, RandomizedSearchCV])
def test_parallel_search_over_layers_and_optimizer(data, search_class):
    X, y = data
    layers = [Dense(4), ReLU(), Dense()]
    optimizer = Adam()
    grid = {
        "layers__0__units": [4, 32],
        "layers__1": [ReLU(), Tanh()],
        "optimizer__beta_1": [0.8, 0.9],
    }
    extra = (
        {"n_iter": 8, "random_state": 0} if search_class is RandomizedSearchCV else {}
    )
    search = search_class(
        _model(layers=layers, optimizer=optimizer), grid, cv=2, n_jobs=2, **extra
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert (
        search.best_estimator_.layers[0].units
        == search.best_params_["layers__0__units"]
    )
    assert layers[0].units == 4 and isinstance(layers[1], ReLU)
    assert optimizer.beta_1 == 0.9
    assert not hasattr(layers[0], "params")


def test_search_results_equal_sequential_fits(data):
    X, y = data
    search = GridSearchCV(_model(), {"layers__0__units": [8, 16]}, cv=2, n_jobs=2)
    search.fit(X, y)
    for units, score in zip(
        [8, 16], search.cv_results_["mean_test_score"], strict=True
    ):
        expected = cross_val_score(
            _model().set_params(layers__0__units=units), X, y, cv=2
        )
        assert score == pytest.approx(expected.mean(), rel=1e-12)


def test_pipeline_cross_val_score_and_learning_curve(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _model())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.5
    sizes, train_scores, test_scores = learning_curve(
        pipe, X, y, cv=3, train_sizes=[0.5, 1.0]
    )
    assert train_scores.shape == (2, 3) and np.all(np.isfinite(test_scores))


def test_transformed_target_and_stacking(data):
    X, y = data
    ttr = TransformedTargetRegressor(_model(), func=np.log1p, inverse_func=np.expm1)
    assert ttr.fit(X, y).score(X, y) > 0.6
    stack = StackingRegressor(
        [("nn", _model()), ("ridge", Ridge())], final_estimator=Ridge(), cv=3
    )
    assert stack.fit(X, y).score(X, y) > 0.6


def test_permutation_importance_finds_the_informative_features(data):
    X, y = data
    model = _model(max_iter=150).fit(X, y)
    result = permutation_importance(model, X, y, n_repeats=3, random_state=0)
    informative, noise = result.importances_mean[:5], result.importances_mean[5:]
    assert informative.min() > noise.max()


def test_metadata_routing_sends_sample_weight_to_fit_and_score(data):
    X, y = data
    weights = np.random.default_rng(0).uniform(0.1, 3, size=len(y))
    cv = KFold(3)
    with config_context(enable_metadata_routing=True):
        model = _model().set_fit_request(sample_weight=True)
        model.set_score_request(sample_weight=True)
        routed = cross_validate(model, X, y, cv=cv, params={"sample_weight": weights})
    for (train, test), score in zip(cv.split(X), routed["test_score"], strict=True):
        fitted = _model().fit(X[train], y[train], sample_weight=weights[train])
        expected = fitted.score(X[test], y[test], sample_weight=weights[test])
        assert score == pytest.approx(expected, rel=1e-12)


def test_zero_weights_equal_dropping_rows_and_integers_equal_repeats(data):
    X, y = data
    weights = np.random.default_rng(1).integers(0, 3, size=len(y))
    weighted = _model(batch_size=len(y), max_iter=30).fit(X, y, sample_weight=weights)
    repeated = _model(batch_size=int(weights.sum()), max_iter=30).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-8)
    assert weighted.loss_curve_ == pytest.approx(repeated.loss_curve_, rel=1e-10)


def test_sample_weight_flows_into_partial_fit(data):
    X, y = data
    weights = np.r_[np.zeros(120), np.ones(120)]
    weighted = _model(batch_size=240).partial_fit(X, y, sample_weight=weights)
    dropped = _model(batch_size=120).partial_fit(X[120:], y[120:])
    assert weighted.loss_curve_[0] == pytest.approx(dropped.loss_curve_[0], rel=1e-10)
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-9)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_equals_dense(data, fmt):
    X, y = data
    X = np.where(np.abs(X) > 1, X, 0.0)
    X_sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    dense = _model().fit(X, y)
    sparse = _model().fit(X_sparse, y)
    np.testing.assert_allclose(sparse.predict(X_sparse), dense.predict(X), rtol=1e-9)
    sparse.partial_fit(X_sparse, y)
    dense.partial_fit(X, y)
    np.testing.assert_allclose(sparse.predict(X_sparse), dense.predict(X), rtol=1e-9)


def test_sparse_input_is_never_densified():
    rng = np.random.default_rng(0)
    X = sp.random(20000, 2000, density=0.001, format="csr", random_state=0)
    y = rng.normal(size=20000)
    model = _model(max_iter=1, layers=[Dense(8), ReLU(), Dense()])
    tracemalloc.start()
    model.fit(X, y)
    model.predict(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40e6  # the dense matrix would be 320 MB


def test_float32_end_to_end_and_other_types_become_float64(data):
    X, y = data
    model = _model().fit(X.astype(np.float32), y.astype(np.float32))
    assert model.network_.coef.dtype == np.float32
    assert model.optimizer_.m_.dtype == np.float32
    assert model.predict(X.astype(np.float32)).dtype == np.float32
    integer = _model(max_iter=2).fit((X * 10).astype(np.int64), y)
    assert integer.network_.coef.dtype == np.float64
    assert integer.predict((X * 10).astype(np.int64)).dtype == np.float64


def test_dataframe_feature_names(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = _model(max_iter=2).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(model.predict(frame), model.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame.rename(columns={"f0": "other"}))


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_is_bitwise_and_partial_fit_continues_exactly(data, dump):
    X, y = data
    model = _model(max_iter=5).fit(X, y)
    if dump == "pickle":
        restored = pickle.loads(pickle.dumps(model))
    else:
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        buffer.seek(0)
        restored = joblib.load(buffer)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    model.partial_fit(X, y)
    restored.partial_fit(X, y)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    assert restored.loss_curve_ == model.loss_curve_


def test_loading_a_model_from_another_version_warns(data):
    X, y = data
    model = _model(max_iter=2).fit(X, y)
    state = model.__getstate__()
    state["_sknnlite_version"] = "0.0.1"
    restored = NNRegressor.__new__(NNRegressor)
    with pytest.warns(SknnliteVersionWarning, match="pickled with sknnlite 0.0.1"):
        restored.__setstate__(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SknnliteVersionWarning)
        pickle.loads(pickle.dumps(model))


def test_html_repr_shows_the_layer_stack():
    html = estimator_html_repr(
        make_pipeline(StandardScaler(), NNRegressor([Dense(64), Tanh(), Dense()]))
    )
    for text in ("Dense(64)", "Tanh()", "Dense()", "NNRegressor"):
        assert text in html


def test_warm_start_and_refit_counters(data):
    X, y = data
    model = _model(max_iter=3, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y).fit(X, y)
    assert model.n_iter_ == 6 and model.t_ == 6 * len(y)
    model.set_params(warm_start=False).fit(X, y)
    assert model.n_iter_ == 3 and model.t_ == 3 * len(y)
