"""NNRegressor(loss=...): robust and count losses, user losses, gradient checker."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_poisson_deviance, r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score

from sknnlite import (
    BatchNorm,
    Dense,
    Dropout,
    Huber,
    Layer,
    Loss,
    NNRegressor,
    Quantile,
    ReLU,
    SquaredError,
    Tanh,
)
from sknnlite.exceptions import DivergenceWarning, SknnliteVersionWarning
from sknnlite.testing import check_estimator_gradients, check_layer_gradients


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _counts(n_samples=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 4))
    y = rng.poisson(np.exp(0.5 + X @ np.array([0.6, -0.4, 0.3, 0.0])))
    return X, y.astype(float)


def test_huber_beats_squared_error_with_outliers_in_y():
    X, y = make_regression(n_samples=400, n_features=5, noise=5.0, random_state=0)
    X_train, y_train, X_test, y_test = X[:300], y[:300].copy(), X[300:], y[300:]
    rng = np.random.default_rng(0)
    outliers = rng.choice(300, 10, replace=False)
    y_train[outliers] += rng.choice([-1, 1], 10) * 10 * y.std()
    # Three seeds: how far Huber has gone towards fitting the outliers
    # themselves after ~200 epochs varies with the seed (0.54 to 0.93 here).
    huber_scores = []
    for seed in range(3):
        scores = {}
        for loss in ["squared_error", "huber"]:
            model = NNRegressor(
                [Dense(32), ReLU(), Dense()],
                loss=loss,
                learning_rate=0.01,
                batch_size=32,
                random_state=seed,
            ).fit(X_train, y_train)
            scores[loss] = r2_score(y_test, model.predict(X_test))
        assert scores["huber"] > scores["squared_error"] + 0.3
        huber_scores.append(scores["huber"])
    assert np.mean(huber_scores) > 0.7


@pytest.mark.parametrize("loss", ["absolute_error", "huber", Quantile(0.5)])
def test_one_huge_outlier_does_not_spoil_a_robust_loss(loss):
    # Issue 15: scaled by mean and std, the outlier made the rest of y a
    # constant in training units (R² -1.46e4 on the inliers; -2674 for the
    # median of a quantile loss, scaled that way until 0.2.1).
    X, y = make_friedman1(n_samples=500, random_state=0)
    y_outlier = y.copy()
    y_outlier[0] = 1e6
    model = NNRegressor(
        loss=loss, learning_rate=0.01, max_iter=200, random_state=0
    ).fit(X, y_outlier)
    assert r2_score(y[1:], model.predict(X[1:])) >= 0.9
    median = np.quantile(y_outlier, 0.5, method="inverted_cdf")
    np.testing.assert_allclose(model.target_center_, [median])


@pytest.mark.parametrize("loss", ["absolute_error", "huber", Quantile(0.5)])
def test_one_huge_outlier_does_not_spoil_a_robust_loss_on_a_zero_inflated_target(
    loss,
):
    # 80 % of the targets are 0, so the quartiles are equal and the scale
    # came from a fallback, the mean absolute deviation, which one 1e6 set
    # to ~1260 (the nonzero targets, ~15, became ~0.01 in training units):
    # R² on the inliers -1.3 (absolute_error), -21 (huber), -1.5 (median);
    # 0.79-0.80 without the outlier, as now with it.
    X, y = make_friedman1(n_samples=1000, random_state=0)
    y = np.where(X[:, 0] > 0.8, y, 0.0)
    y_outlier = y.copy()
    y_outlier[1] = 1e6  # a zero row
    assert y[1] == 0
    model = NNRegressor(loss=loss, max_iter=200, random_state=0).fit(X, y_outlier)
    inliers = np.arange(1000) != 1
    assert r2_score(y[inliers], model.predict(X[inliers])) >= 0.7
    assert 10 < model.target_scale_[0] < 40  # the nonzero targets' spread


@pytest.mark.parametrize("loss", ["absolute_error", "huber"])
def test_an_outlier_in_a_small_first_partial_fit_call_does_not_set_the_scale(loss):
    # The scaling is fixed by the first call; the quartiles of 3 rows are
    # their extremes, so one 1e6 among them made the scale 7.4e5 and the
    # stream learned nothing (R² -38,614 for absolute_error, -1338 huber).
    X, y = make_friedman1(n_samples=2000, random_state=0)
    y_outlier = y.copy()
    y_outlier[0] = 1e6
    model = NNRegressor(loss=loss, learning_rate=0.01, random_state=0)
    model.partial_fit(X[:3], y_outlier[:3])
    for _ in range(10):
        for start in range(3, 1500, 100):
            model.partial_fit(X[start : start + 100], y_outlier[start : start + 100])
    assert model.target_scale_[0] < 10
    # 0.80 / 0.83 for a stream without the outlier
    assert r2_score(y[1500:], model.predict(X[1500:])) >= 0.7


@pytest.mark.parametrize("loss", ["absolute_error", "huber", Quantile(0.5)])
@pytest.mark.parametrize("incremental", [False, True])
def test_one_gigantic_target_is_not_taken_for_divergence(loss, incremental):
    # The divergence reference was the first batch's loss; a target of 1e8
    # in another batch made the first epoch's loss 2e4 times larger, and fit
    # raised "Training diverged before finishing one epoch ... the learning
    # rate is too large" whatever the learning rate (second trial, 0.3.0).
    X, y = make_friedman1(n_samples=800, random_state=3)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y_outlier = y.copy()
    y_outlier[709] = 1e8  # in the last batch of 200 rows, not the first
    model = NNRegressor(
        [Dense(64), ReLU(), Dense(64), ReLU(), Dense()],
        loss=loss,
        learning_rate=0.01,
        max_iter=30,
        shuffle=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        if incremental:
            for _ in range(30):
                model.partial_fit(X, y_outlier)
        else:
            model.fit(X, y_outlier)
    inliers = np.arange(800) != 709
    assert r2_score(y[inliers], model.predict(X[inliers])) >= 0.9


@pytest.mark.parametrize("loss", ["absolute_error", "huber", Quantile(0.5)])
def test_early_stopping_of_a_robust_loss_survives_outliers_in_the_held_out_rows(loss):
    # With R² as the validation score, one outlier (1e6) among the held-out
    # rows made every score -0.0204: no change above tol, so training
    # stopped after n_iter_no_change + 1 epochs (R² on the inliers 0.59,
    # 0.61 and 0.98). The negative validation loss follows the inliers.
    X, y = make_friedman1(n_samples=1000, random_state=0)
    y_outlier = y.copy()
    outliers = np.arange(0, 1000, 100)
    y_outlier[outliers] = 1e6
    model = NNRegressor(
        [Dense(64), ReLU(), Dense(64), ReLU(), Dense()],
        loss=loss,
        learning_rate=0.01,
        early_stopping=True,
        random_state=0,
    ).fit(X, y_outlier)
    inliers = np.setdiff1d(np.arange(1000), outliers)
    assert r2_score(y[inliers], model.predict(X[inliers])) >= 0.95
    assert model.n_iter_ > model.n_iter_no_change + 10
    scores = np.array(model.validation_scores_)
    np.testing.assert_allclose(scores, -np.array(model.validation_loss_curve_))
    assert model.best_validation_score_ == scores.max()


def test_robust_target_scaling_uses_weighted_median_and_iqr():
    X, y = make_regression(n_samples=200, n_features=3, noise=5.0, random_state=0)
    weights = np.r_[np.zeros(100), np.full(100, 2.0)]
    model = NNRegressor([Dense(4), ReLU(), Dense()], loss="absolute_error", max_iter=1)
    model.fit(X, y, sample_weight=weights)
    q1, median, q3 = np.quantile(y[100:], [0.25, 0.5, 0.75], method="inverted_cdf")
    np.testing.assert_allclose(model.target_center_, [median])
    np.testing.assert_allclose(model.target_scale_, [(q3 - q1) / 1.3489795003921634])


class ScaledByTen(Loss):
    """Squared error on ``(y - 1) / 10``, whatever the data."""

    def target_scaling(self, y, sample_weight=None):
        return np.ones(y.shape[1]), np.full(y.shape[1], 10.0)

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        return SquaredError().value_and_gradient(y, y_pred, sample_weight)


def test_a_user_loss_decides_the_target_scaling():
    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    model = NNRegressor([Dense(4), ReLU(), Dense()], loss=ScaledByTen(), max_iter=2)
    model.fit(X, np.c_[y, 2 * y])
    np.testing.assert_array_equal(model.target_center_, [1.0, 1.0])
    np.testing.assert_array_equal(model.target_scale_, [10.0, 10.0])
    raw = model.network_.predict(X)
    np.testing.assert_allclose(model.predict(X), raw * 10.0 + 1.0)


@pytest.mark.parametrize(
    "scaling", [([0.0], [0.0]), ([0.0], [np.inf]), ([0.0, 0.0], [1.0, 1.0])]
)
def test_invalid_target_scaling_of_a_user_loss_is_refused(scaling):
    class Broken(ScaledByTen):
        def target_scaling(self, y, sample_weight=None):
            return scaling

    X, y = make_regression(n_samples=20, n_features=3, random_state=0)
    with pytest.raises(ValueError, match=r"Broken.target_scaling must return"):
        NNRegressor([Dense(2), ReLU(), Dense()], loss=Broken(), max_iter=1).fit(X, y)


def test_target_mean_was_removed_in_0_3():
    # Deprecated in 0.2 ("will be removed in 0.3").
    X, y = make_regression(n_samples=30, n_features=3, random_state=0)
    model = NNRegressor([Dense(2), ReLU(), Dense()], max_iter=1).fit(X, y)
    assert hasattr(model, "target_center_")
    assert not hasattr(model, "target_mean_")
    with pytest.raises(AttributeError, match="removed in sknnlite 0.3.*target_center_"):
        model.target_mean_  # noqa: B018
    assert not hasattr(NNRegressor(), "target_center_")


def test_a_model_pickled_with_target_mean_still_predicts():
    X, y = make_regression(n_samples=30, n_features=3, random_state=0)
    model = NNRegressor([Dense(2), ReLU(), Dense()], max_iter=1).fit(X, y)
    state = dict(model.__getstate__())  # a copy: it is the live __dict__
    state["target_mean_"] = state.pop("target_center_")  # as sknnlite 0.1 did
    old = NNRegressor.__new__(NNRegressor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SknnliteVersionWarning)
        old.__setstate__({**state, "_sknnlite_version": "0.1.0"})
    np.testing.assert_array_equal(old.predict(X), model.predict(X))


def test_poisson_beats_squared_error_in_poisson_deviance():
    X, y = _counts()
    train, test = slice(0, 1000), slice(1000, None)
    deviance = {}
    for loss in ["squared_error", "poisson"]:
        model = NNRegressor(
            [Dense(16), Tanh(), Dense()],
            loss=loss,
            learning_rate=0.01,
            max_iter=100,
            random_state=0,
        ).fit(X[train], y[train])
        # Squared error can predict <= 0, where the deviance is undefined.
        predicted = np.maximum(model.predict(X[test]), 1e-3)
        deviance[loss] = mean_poisson_deviance(y[test], predicted)
    assert deviance["poisson"] < deviance["squared_error"] - 0.02


def test_poisson_skips_target_scaling_and_predicts_positive_means():
    X, y = _counts(n_samples=200)
    model = NNRegressor([Dense(8), Tanh(), Dense()], loss="poisson", max_iter=5)
    model.fit(X, y)
    np.testing.assert_array_equal(model.target_center_, [0.0])
    np.testing.assert_array_equal(model.target_scale_, [1.0])
    assert np.all(model.predict(X) > 0)


def test_poisson_refuses_negative_targets_clearly():
    X, y = _counts(n_samples=20)
    y[3] = -1.0
    with pytest.raises(ValueError, match="loss='poisson' needs non-negative"):
        NNRegressor(loss="poisson", max_iter=1).fit(X, y)


def test_unknown_loss_name_is_refused_by_name():
    with pytest.raises(ValueError, match="'loss' parameter of NNRegressor"):
        NNRegressor(loss="cubic").fit(np.ones((4, 2)), np.arange(4.0))


def test_huber_delta_is_tunable_as_a_nested_parameter():
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    model = NNRegressor(
        [Dense(4), ReLU(), Dense()], loss=Huber(), max_iter=3, random_state=0
    )
    assert model.get_params()["loss__delta"] == 0.1
    deltas = [0.5, 2.0]
    search = GridSearchCV(model, {"loss__delta": deltas}, cv=2).fit(X, y)
    # Each candidate scores exactly as a model built with that Huber(delta).
    direct = [
        cross_val_score(clone(model).set_params(loss=Huber(delta)), X, y, cv=2).mean()
        for delta in deltas
    ]
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], direct)
    assert direct[0] != direct[1]
    assert search.best_params_["loss__delta"] == deltas[int(np.argmax(direct))]
    assert (
        search.best_estimator_.loss_function_.delta
        == search.best_params_["loss__delta"]
    )
    assert model.loss.delta == 0.1  # the search did not change it
    with pytest.raises(ValueError, match="delta"):
        NNRegressor(loss=Huber(delta=-1.0), max_iter=1).fit(X, y)


class QuarticLoss(Loss):
    """A user-written loss: mean of (y_pred - y)**4 / 4."""

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        weight = np.ones(len(y)) if sample_weight is None else sample_weight
        scale = 1.0 / (weight.sum() * y.shape[1])
        value = 0.25 * float(weight @ (residual**4).sum(axis=1)) * scale
        return value, residual**3 * weight[:, None] * scale


def test_user_written_loss_trains_and_is_gradient_checked():
    X, y = make_regression(n_samples=80, n_features=3, noise=1.0, random_state=0)
    model = NNRegressor([Dense(8), Tanh(), Dense()], loss=QuarticLoss(), max_iter=50)
    model.set_params(learning_rate=0.01, random_state=0).fit(X, y)
    assert isinstance(model.loss_function_, QuarticLoss)
    assert model.loss_function_ is not model.loss
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    check_estimator_gradients(model, X[:5], y[:5]).raise_if_wrong()


def test_estimator_checker_covers_every_array_of_dropout_batchnorm_stacks():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    weights = rng.uniform(0.5, 2.0, size=8)
    layers = [Dense(5), BatchNorm(), ReLU(), Dropout(0.3), Dense()]
    unfitted = NNRegressor(layers, loss="huber", alpha=0.5)
    report = check_estimator_gradients(unfitted, X, y, sample_weight=weights)
    report.raise_if_wrong()
    assert len(report.errors) == 6 and not hasattr(unfitted, "network_")
    fitted = NNRegressor(layers, max_iter=3, random_state=0).fit(X, y)
    before = fitted.predict(X), fitted.layers_[1].running_mean_.copy()
    draws = fitted.layers_[3].rng_.bit_generator.state
    check_estimator_gradients(fitted, X, y).raise_if_wrong()
    np.testing.assert_array_equal(fitted.predict(X), before[0])
    np.testing.assert_array_equal(fitted.layers_[1].running_mean_, before[1])
    assert fitted.layers_[3].rng_.bit_generator.state == draws


class WrongScale(Layer):
    """A per-feature scale whose backward has deliberate bugs."""

    def __init__(self, bug="param"):
        self.bug = bug

    def build(self, n_inputs, rng, dtype):
        self.add_param("s", np.full(n_inputs, 1.5, dtype=dtype))
        return n_inputs

    def forward(self, x, training=False):
        self._x = x
        return x * self.params["s"]

    def backward(self, grad_out):
        factor = 2.0 if self.bug == "param" else 1.0
        self.grads["s"][...] = factor * (grad_out * self._x).sum(axis=0)
        return grad_out * (self.params["s"] if self.bug == "param" else 1.0)


def test_checkers_catch_and_name_a_wrong_backward():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    model = NNRegressor([Dense(4), WrongScale("param"), Tanh(), Dense()])
    report = check_estimator_gradients(model, X, y)
    assert not report.ok and report.worst[0] == "layers[1].params['s']"
    wrong = {name for name, error in report.errors.items() if error > 1e-6}
    assert wrong == {"layers[1].params['s']"}
    with pytest.raises(AssertionError, match=r"layers\[1\]\.params\['s'\]"):
        report.raise_if_wrong()
    model = NNRegressor([Dense(4), WrongScale("input"), Tanh(), Dense()])
    wrong = check_estimator_gradients(model, X, y).errors
    assert wrong["layers[0].params['W']"] > 1e-3
    assert wrong["layers[1].params['s']"] < 1e-6
    layer_report = check_layer_gradients(WrongScale("input"))
    assert (
        layer_report.worst[0] == "input" and layer_report.errors["params['s']"] < 1e-6
    )


def test_estimator_checker_refuses_a_float32_model():
    X, y = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32), np.ones(10)
    model = NNRegressor([Dense(3), Dense()], max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="float32"):
        check_estimator_gradients(model, X, y)


@pytest.mark.parametrize("loss", ["squared_error", "huber"])
def test_online_learning_from_one_row_does_not_depend_on_the_units_of_y(loss):
    # The first one-row partial_fit has no spread to scale by; a scale of 1
    # made R² 0.82 / -0.17 / -0.28 for y, 1000 y and 1e6 y.
    X, y = make_friedman1(n_samples=60, n_features=5, random_state=1)
    scores = []
    for k in (1.0, 1e3, 1e6):
        model = NNRegressor(
            [Dense(8), ReLU(), Dense()], loss=loss, learning_rate=0.01, random_state=0
        )
        for i in range(len(y)):
            model.partial_fit(X[i : i + 1], y[i : i + 1] * k)
        np.testing.assert_allclose(model.target_scale_, abs(y[0]) * k, rtol=1e-12)
        scores.append(model.score(X, y * k))
    np.testing.assert_allclose(scores, scores[0], rtol=1e-6)


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error"])
def test_a_stream_starting_at_zero_does_not_depend_on_the_units_of_y(loss):
    # A first target of 0 has no magnitude either: the scale stayed 1, so
    # R² was -2.70 for y and -3.90 for 1000 y. Its scaled target is 0 under
    # any scale, so the scale comes from the next call.
    X, y = make_friedman1(n_samples=60, n_features=5, random_state=1)
    scores = []
    for k in (1.0, 1e3):
        model = NNRegressor(
            [Dense(8), ReLU(), Dense()], loss=loss, learning_rate=0.01, random_state=0
        )
        model.partial_fit(X[:1], [0.0])
        np.testing.assert_array_equal(model.target_scale_, [1.0])  # not known yet
        for _ in range(5):
            model.partial_fit(X, y * k)
        scaling = model.loss_function_.target_scaling(y[:, None] * k)
        np.testing.assert_allclose(model.target_scale_, scaling[1], rtol=1e-12)
        np.testing.assert_array_equal(model.target_center_, [0.0])
        scores.append(model.score(X, y * k))
    np.testing.assert_allclose(scores, scores[0], rtol=1e-6)


def test_a_pending_scale_is_forgotten_by_a_new_fit():
    X, y = make_friedman1(n_samples=60, n_features=5, random_state=1)
    model = NNRegressor([Dense(8), ReLU(), Dense()], max_iter=2, random_state=0)
    model.partial_fit(X[:1], [0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)  # a new model: its statistics are fixed by this fit
    scale = model.target_scale_.copy()
    model.partial_fit(X, 10 * y)
    np.testing.assert_array_equal(model.target_scale_, scale)


def test_fit_on_a_constant_target_keeps_a_unit_scale():
    # Only a first partial_fit chunk, a sample of a stream, is scaled by its
    # magnitude; in fit a constant target is the whole truth.
    X = np.random.default_rng(0).normal(size=(20, 2))
    model = NNRegressor([Dense(4), ReLU(), Dense()], max_iter=3, random_state=0)
    model.fit(X, np.full(20, -250.0))
    np.testing.assert_array_equal(model.target_scale_, [1.0])
    model = NNRegressor([Dense(4), ReLU(), Dense()], loss="poisson", random_state=0)
    model.partial_fit(X[:1], [3.0])
    np.testing.assert_array_equal(model.target_scale_, [1.0])
