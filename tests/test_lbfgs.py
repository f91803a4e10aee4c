"""optimizer="lbfgs": full-batch L-BFGS, as MLPRegressor's solver="lbfgs"."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from sknnlite import LBFGS, Dense, NNClassifier, NNRegressor, ReLU, Tanh


@pytest.fixture(scope="module")
def data():
    X, y = make_friedman1(n_samples=400, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X[:300], y[:300], X[300:], y[300:]


def _model(**params):
    settings = dict(layers=[Dense(32), Tanh(), Dense()], optimizer="lbfgs")
    settings.update(random_state=0, **params)
    return NNRegressor(**settings)


def test_lbfgs_fits_small_data_as_well_as_mlp_lbfgs(data):
    X, y, X_test, y_test = data
    with warnings.catch_warnings():  # both stop at max_iter, as MLP does here
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = _model(max_iter=300).fit(X, y)
        mlp = MLPRegressor(
            hidden_layer_sizes=(32,), activation="tanh", solver="lbfgs",
            max_iter=300, random_state=0,
        ).fit(X, (y - y.mean()) / y.std())  # fmt: skip
    mlp_r2 = mlp.score(X_test, (y_test - y.mean()) / y.std())
    assert ours.score(X_test, y_test) >= mlp_r2 - 0.02
    assert ours.n_iter_ == len(ours.loss_curve_) == ours.optimizer_.n_steps_
    assert ours.loss_curve_[-1] < 0.05 * ours.loss_curve_[0]


def test_lbfgs_reaching_max_iter_warns(data):
    X, y, _, _ = data
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        model = _model(max_iter=5).fit(X, y)
    assert model.n_iter_ == 5


def test_lbfgs_early_stopping_restores_the_best_iteration(data):
    X, y, _, _ = data
    settings = dict(early_stopping=True, n_iter_no_change=3)
    model = _model(max_iter=300, **settings).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_ < 300
    assert model.best_validation_score_ == max(model.validation_scores_)
    best = int(np.argmax(model.validation_scores_)) + 1
    assert best < model.n_iter_
    # The same fit stopped at the best iteration ends on the restored weights.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        replay = _model(max_iter=best, **settings).fit(X, y)
    assert replay.validation_scores_ == model.validation_scores_[:best]
    np.testing.assert_allclose(model.predict(X), replay.predict(X), rtol=1e-10)


def test_lbfgs_honours_sample_weight_like_repeated_rows(data):
    X, y, _, _ = data
    weights = np.random.default_rng(0).integers(0, 3, size=len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = _model(max_iter=20).fit(X, y, sample_weight=weights)
        repeated = _model(max_iter=20).fit(
            np.repeat(X, weights, axis=0), np.repeat(y, weights)
        )
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6)


def test_lbfgs_settings_are_tunable_and_float32_stays_float32(data):
    X, y, _, _ = data
    model = _model(optimizer=LBFGS(max_corrections=5), max_iter=10)
    model.set_params(optimizer__max_fun=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X.astype(np.float32), y)
    assert model.optimizer_.max_fun == 50 and model.optimizer_.max_corrections == 5
    assert model.network_.coef.dtype == np.float32
    assert model.predict(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("estimator", [NNRegressor, NNClassifier])
def test_partial_fit_is_unavailable_with_lbfgs(estimator):
    model = estimator(layers=[Dense(4), ReLU(), Dense()], optimizer="lbfgs")
    assert not hasattr(model, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        model.partial_fit(np.ones((4, 2)), np.array([0, 1, 0, 1]))
    assert "needs a mini-batch optimizer" in str(info.value.__cause__)
    assert hasattr(model.set_params(optimizer="adam"), "partial_fit")
