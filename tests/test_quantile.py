"""Quantile regression (pinball loss, intervals, coverage, no crossing); gamma fits."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import d2_pinball_score, mean_gamma_deviance, mean_pinball_loss
from sklearn.model_selection import GridSearchCV

from sknnlite import AbsoluteError, Dense, NNRegressor, Poisson, Quantile
from sknnlite.testing import check_estimator_gradients, check_loss_gradient

RNG = np.random.default_rng(0)
Y = RNG.normal(size=(9, 2))
OUTPUTS = RNG.normal(size=(9, 6))  # 2 targets x 3 quantiles, target-major
WEIGHTS = RNG.integers(0, 4, size=9).astype(float)
LEVELS = (0.05, 0.5, 0.95)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def heteroscedastic(n_samples, seed):
    """``y = sin(2 x0) + x1 + (0.2 + |x0|) * noise``: the spread varies with x0."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n_samples, 2))
    y = (
        np.sin(2 * X[:, 0])
        + X[:, 1]
        + (0.2 + np.abs(X[:, 0])) * rng.normal(size=n_samples)
    )
    return X, y


@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["unweighted", "weighted"])
def test_pinball_gradient_matches_finite_differences(weights):
    check_loss_gradient(Quantile(LEVELS), Y, OUTPUTS, weights).raise_if_wrong()


def test_pinball_value_is_the_mean_of_sklearn_pinball_losses():
    value = Quantile(LEVELS).value(Y, OUTPUTS)
    expected = np.mean(
        [
            mean_pinball_loss(Y[:, j], OUTPUTS[:, 3 * j + k], alpha=level)
            for j in range(2)
            for k, level in enumerate(LEVELS)
        ]
    )
    assert value == pytest.approx(expected, rel=1e-12)


def test_median_pinball_is_half_the_absolute_error_and_weights_repeat_rows():
    outputs = OUTPUTS[:, :2]
    assert Quantile(0.5).value(Y, outputs) == pytest.approx(
        0.5 * AbsoluteError().value(Y, outputs)
    )
    counts = WEIGHTS.astype(int)
    repeated = Quantile(LEVELS).value(
        np.repeat(Y, counts, axis=0), np.repeat(OUTPUTS, counts, axis=0)
    )
    assert Quantile(LEVELS).value(Y, OUTPUTS, WEIGHTS) == pytest.approx(repeated)


def test_intercept_only_gives_each_targets_quantiles_in_output_order():
    y = np.column_stack([np.arange(1.0, 101.0), -np.arange(1.0, 101.0)])
    constant = Quantile([0.1, 0.9]).intercept_only(y)
    # Inverted-CDF quantiles, as the pinball loss's minimisers: data values.
    np.testing.assert_array_equal(constant, [10, 90, -91, -11])


def test_weighted_intercept_only_equals_repeated_rows():
    repeated = np.repeat(Y, WEIGHTS.astype(int), axis=0)
    np.testing.assert_array_equal(
        Quantile(LEVELS).intercept_only(Y, WEIGHTS),
        Quantile(LEVELS).intercept_only(repeated),
    )


def test_inverse_link_sorts_each_targets_quantiles_only():
    raw = np.array([[3.0, 1.0, 2.0, 9.0, 8.0, 7.0]])
    np.testing.assert_array_equal(
        Quantile(LEVELS).inverse_link(raw), [[1, 2, 3, 7, 8, 9]]
    )


@pytest.mark.parametrize(
    "quantiles", [(0.5, 0.1), (0.0, 0.5), (0.5, 1.0), (0.2, 0.2), [], 1.5]
)
def test_bad_quantiles_are_refused_naming_the_parameter(quantiles):
    X, y = heteroscedastic(20, 0)
    model = NNRegressor(loss=Quantile(quantiles))
    with pytest.raises(ValueError, match=r"'quantiles' parameter of loss \(Quantile\)"):
        model.fit(X, y)


def test_coverage_is_nominal_on_heteroscedastic_data():
    # Seeds 0-2 of this setting gave quantile levels within 0.021 and
    # coverages within 0.012 of nominal; large batches keep Adam's steps on
    # the sign-like pinball gradient steady.
    X, y = heteroscedastic(3000, seed=10)
    X_test, y_test = heteroscedastic(20000, seed=1)
    model = NNRegressor(
        [Dense(32), "relu", Dense(32), "relu", Dense()],
        loss="quantile",
        learning_rate=0.003,
        batch_size=500,
        max_iter=200,
        n_iter_no_change=20,
        random_state=0,
    ).fit(X, y)
    predicted = model.predict(X_test)
    assert predicted.shape == (20000, 3)
    assert np.all(np.diff(predicted, axis=1) >= 0)  # no crossing
    for k, level in enumerate(LEVELS):
        assert np.mean(y_test <= predicted[:, k]) == pytest.approx(level, abs=0.03)
    lower, upper = model.predict_interval(X_test)
    assert np.mean((lower <= y_test) & (y_test <= upper)) == pytest.approx(
        0.9, abs=0.03
    )
    # The interval follows the spread: wider where |x0| is large.
    width = upper - lower
    calm, wild = np.abs(X_test[:, 0]) < 0.5, np.abs(X_test[:, 0]) > 1.5
    assert width[wild].mean() > 3 * width[calm].mean()


def test_predictions_never_cross_even_where_the_network_outputs_do():
    X, y = heteroscedastic(300, seed=0)
    model = NNRegressor(
        [Dense(16), "relu", Dense()],
        loss=Quantile([0.3, 0.7]),
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    far = np.random.default_rng(2).normal(scale=30, size=(2000, 2))
    raw = model.network_.predict(far)
    assert np.any(raw[:, 0] > raw[:, 1])  # the network alone crosses out there
    predicted = model.predict(far)
    assert np.all(predicted[:, 0] <= predicted[:, 1])
    np.testing.assert_allclose(
        predicted, np.sort(raw, axis=1) * model.target_scale_ + model.target_center_
    )


@pytest.mark.parametrize(
    "quantiles, two_targets, shape",
    [
        (0.9, False, (30,)),
        ([0.9], True, (30, 2)),
        ([0.1, 0.5, 0.9], False, (30, 3)),
        ([0.1, 0.9], True, (30, 2, 2)),
    ],
)
def test_predict_shapes_follow_y_with_a_quantile_axis(quantiles, two_targets, shape):
    X, y = heteroscedastic(30, 0)
    Y2 = np.column_stack([y, 10 * y + 100]) if two_targets else y
    model = NNRegressor(
        [Dense(8), "relu", Dense()], loss=Quantile(quantiles), max_iter=2
    ).fit(X, Y2)
    assert model.network_.n_outputs == np.size(quantiles) * (2 if two_targets else 1)
    assert model.predict(X).shape == shape
    if np.size(quantiles) > 1:
        lower, upper = model.predict_interval(X)
        assert lower.shape == upper.shape == shape[:-1]
        assert np.all(lower <= upper)


def test_predict_interval_needs_two_quantiles():
    X, y = heteroscedastic(30, 0)
    for loss in ["squared_error", Quantile(0.5)]:
        model = NNRegressor([Dense(4), Dense()], loss=loss, max_iter=1).fit(X, y)
        with pytest.raises(ValueError, match=r"predict_interval needs a model fitted"):
            model.predict_interval(X)


def test_score_is_d2_pinball_averaged_over_quantiles():
    X, y = heteroscedastic(200, 0)
    model = NNRegressor(
        [Dense(16), "relu", Dense()],
        loss=Quantile([0.2, 0.8]),
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    predicted = model.predict(X)
    expected = np.mean(
        [
            d2_pinball_score(y, predicted[:, k], alpha=a)
            for k, a in enumerate([0.2, 0.8])
        ]
    )
    assert model.score(X, y) == pytest.approx(expected, rel=1e-10)


def test_early_stopping_scores_quantile_models():
    X, y = heteroscedastic(300, 0)
    model = NNRegressor(
        [Dense(16), "relu", Dense()],
        loss="quantile",
        early_stopping=True,
        max_iter=5,
        random_state=0,
    ).fit(X, y)
    scores = model.validation_scores_
    assert len(scores) == 5 and np.all(np.isfinite(scores))
    assert scores[-1] > scores[0] and model.best_validation_score_ == max(scores)


def test_scoring_a_validation_output_leaves_it_unchanged():
    # The loop measures the validation loss on the same output after the
    # score: Poisson's in-place exp (or a quantile sort) must not reach it.
    X = RNG.normal(size=(20, 2))
    y = RNG.poisson(2.0, size=20).astype(float)
    model = NNRegressor([Dense(4), Dense()], loss=Poisson(), max_iter=1).fit(X, y)
    output = RNG.normal(size=(20, 1))
    before = output.copy()
    model._score_output(output, y[:, None], None)
    np.testing.assert_array_equal(output, before)


def test_quantiles_tune_through_set_params_clone_and_grid_search():
    X, y = heteroscedastic(120, 0)
    model = NNRegressor(
        [Dense(8), "relu", Dense()], loss=Quantile([0.1, 0.9]), max_iter=3
    )
    assert model.get_params()["loss__quantiles"] == [0.1, 0.9]
    assert clone(model).set_params(loss__quantiles=[0.2, 0.8]).loss.quantiles == [
        0.2,
        0.8,
    ]
    search = GridSearchCV(model, {"loss__quantiles": [[0.1, 0.9], [0.25, 0.75]]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 2


def test_estimator_gradients_through_the_quantile_loss():
    X, y = heteroscedastic(8, 0)
    model = NNRegressor([Dense(5), "tanh", Dense()], loss=Quantile(LEVELS), alpha=0.1)
    check_estimator_gradients(model, X, y).raise_if_wrong()


# ------------------------------------------------------------------- gamma
def test_gamma_fits_a_log_linear_mean_better_than_squared_error_in_deviance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    mean = np.exp(1.0 + X @ np.array([0.7, -0.5, 0.0]))
    y = rng.gamma(shape=2.0, scale=mean / 2.0)
    train, test = slice(0, 1500), slice(1500, None)
    deviance = {}
    for loss in ["gamma", "squared_error"]:
        model = NNRegressor(
            [Dense(16), "tanh", Dense()], loss=loss, learning_rate=0.01, random_state=0
        ).fit(X[train], y[train])
        predicted = model.predict(X[test])
        if loss == "gamma":
            assert np.all(predicted > 0) and model.target_scale_[0] == 1
        deviance[loss] = mean_gamma_deviance(y[test], np.maximum(predicted, 1e-3))
    constant = mean_gamma_deviance(y[test], np.full(500, y[train].mean()))
    assert deviance["gamma"] < 0.6 * constant
    assert deviance["gamma"] < deviance["squared_error"]


def test_gamma_refuses_a_zero_target_in_fit():
    X, y = heteroscedastic(20, 0)
    with pytest.raises(ValueError, match=r"loss='gamma' needs strictly positive"):
        NNRegressor(loss="gamma").fit(X, np.abs(y) * (np.arange(20) > 0))
