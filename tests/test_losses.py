"""Losses: values against the definition and gradients against finite differences."""

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance

from sknnlite import (
    AbsoluteError,
    Dense,
    Gamma,
    Huber,
    NNRegressor,
    Poisson,
    SigmoidCrossEntropy,
    SoftmaxCrossEntropy,
    SquaredError,
)
from sknnlite.losses import (
    LOSSES,
    NORMAL_MAD,
    _weighted_quantiles,
    _weighted_quantiles_numpy1,
    get_loss,
    mean_std,
    median_iqr,
)
from sknnlite.testing import check_loss_gradient

RNG = np.random.default_rng(0)
Y = RNG.normal(size=(7, 3))
Y_PRED = RNG.normal(size=(7, 3))
WEIGHTS = RNG.integers(0, 4, size=7).astype(float)


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_squared_error_gradient(weights):
    check_loss_gradient(SquaredError(), Y, Y_PRED, weights).raise_if_wrong()


def test_squared_error_value_is_half_mean_squared_error():
    value = SquaredError().value(Y, Y_PRED)
    assert value == pytest.approx(0.5 * np.mean((Y - Y_PRED) ** 2))


def test_integer_weights_equal_repeated_rows():
    repeated = SquaredError().value_and_gradient(
        np.repeat(Y, WEIGHTS.astype(int), axis=0),
        np.repeat(Y_PRED, WEIGHTS.astype(int), axis=0),
    )[0]
    weighted = SquaredError().value(Y, Y_PRED, WEIGHTS)
    assert weighted == pytest.approx(repeated)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="squared_error"):
        get_loss("cubic")


COUNTS = RNG.poisson(2.0, size=(7, 3)).astype(float)
AMOUNTS = RNG.gamma(2.0, 3.0, size=(7, 3))
LOSS_CASES = [
    (SquaredError(), Y),
    (AbsoluteError(), Y),
    (Huber(), Y),
    (Huber(delta=0.2), Y),
    (Poisson(), COUNTS),
    (Gamma(), AMOUNTS),
]


@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss, y", LOSS_CASES, ids=lambda case: repr(case)[:20])
def test_every_loss_gradient_matches_finite_differences(loss, y, weights):
    report = check_loss_gradient(loss, y, Y_PRED, weights)
    report.raise_if_wrong()


@pytest.mark.parametrize("loss, y", LOSS_CASES, ids=lambda case: repr(case)[:20])
def test_every_loss_weights_equal_repeated_rows(loss, y):
    counts = WEIGHTS.astype(int)
    repeated = loss.value(np.repeat(y, counts, axis=0), np.repeat(Y_PRED, counts, 0))
    assert loss.value(y, Y_PRED, WEIGHTS) == pytest.approx(repeated)


def test_absolute_error_value_is_mean_absolute_error():
    assert AbsoluteError().value(Y, Y_PRED) == pytest.approx(
        np.mean(np.abs(Y - Y_PRED))
    )


def test_huber_is_squared_inside_delta_and_linear_outside():
    # Huber's loss divided by delta (SmoothL1Loss(beta=delta) in PyTorch).
    small = Y + 0.1
    for delta in (1.0, 0.5):
        assert Huber(delta=delta).value(Y, small) == pytest.approx(
            SquaredError().value(Y, small) / delta
        )
    far = Huber(delta=0.5).value_and_gradient(np.zeros((1, 1)), np.full((1, 1), 3.0))
    assert far[0] == pytest.approx(3.0 - 0.25)
    # Slope 1 beyond delta, as the absolute error's, whatever delta.
    assert far[1][0, 0] == pytest.approx(1.0)
    assert AbsoluteError().value_and_gradient(np.zeros((1, 1)), np.full((1, 1), 3.0))[
        1
    ][0, 0] == pytest.approx(1.0)


def test_poisson_value_is_half_the_mean_poisson_deviance():
    value = Poisson().value(COUNTS, Y_PRED)
    expected = 0.5 * mean_poisson_deviance(COUNTS.ravel(), np.exp(Y_PRED).ravel())
    assert value == pytest.approx(expected)


def test_poisson_refuses_negative_targets_and_predicts_through_exp():
    with pytest.raises(ValueError, match="non-negative targets"):
        Poisson().check_target(np.array([[1.0], [-2.0]]))
    np.testing.assert_allclose(Poisson().inverse_link(np.array([0.0, 1.0])), [1, np.e])


def test_each_loss_scales_the_target_with_statistics_that_fit_it():
    y = np.c_[RNG.normal(3.0, 2.0, size=400), RNG.normal(-1.0, 0.5, size=400)]
    y[0] = 1e6  # one outlier: moves the mean and std, not the median and IQR
    np.testing.assert_allclose(SquaredError().target_scaling(y), mean_std(y))
    for robust in (AbsoluteError(), Huber()):
        np.testing.assert_allclose(robust.target_scaling(y), median_iqr(y))
    np.testing.assert_array_equal(Poisson().target_scaling(y), [[0, 0], [1, 1]])
    center, scale = median_iqr(y)
    np.testing.assert_allclose(center, [3.0, -1.0], atol=0.25)
    np.testing.assert_allclose(scale, [2.0, 0.5], rtol=0.15)
    assert mean_std(y)[1][0] > 1e4


def test_median_iqr_is_the_standard_deviation_of_normal_data():
    y = np.random.default_rng(1).normal(5.0, 3.0, size=(200_000, 1))
    center, scale = median_iqr(y)
    assert center[0] == pytest.approx(5.0, abs=0.03)
    assert scale[0] == pytest.approx(3.0, rel=0.01)


def test_weighted_scaling_equals_repeated_rows():
    repeats = WEIGHTS.astype(int)
    repeated = np.repeat(Y, repeats, axis=0)
    for statistics in (mean_std, median_iqr):
        np.testing.assert_allclose(statistics(Y, WEIGHTS), statistics(repeated))


def test_weighted_quantiles_agree_with_scikit_learns_for_numpy_1():
    y = RNG.normal(size=(51, 3))
    weights = RNG.uniform(0, 3, size=51)
    quantiles = [0.25, 0.5, 0.75]
    np.testing.assert_allclose(
        _weighted_quantiles_numpy1(y, quantiles, weights),
        _weighted_quantiles(y, quantiles, weights),
    )


def test_median_iqr_falls_back_to_the_spread_of_the_varying_values():
    # Zero-inflated column (the quartiles are equal), and a constant one:
    # the scale is the median absolute deviation of the values that differ
    # from the median (here 10 and 20) times 1.4826.
    y = np.c_[
        np.r_[np.zeros(80), np.full(10, 10.0), np.full(10, 20.0)], np.full(100, 7.0)
    ]
    center, scale = median_iqr(y)
    np.testing.assert_array_equal(center, [0.0, 7.0])
    np.testing.assert_allclose(scale, [NORMAL_MAD * 10.0, 1.0])
    assert NORMAL_MAD == pytest.approx(1 / scipy.stats.norm.ppf(0.75), rel=1e-15)


def test_median_iqr_fallback_is_robust_to_an_outlier():
    # The fallback was the mean absolute deviation: one 1e6 among 100 rows
    # made it 1.25e4 instead of ~15.
    y = np.r_[np.zeros(80), np.arange(1.0, 21.0)][:, None]
    _, clean = median_iqr(y)
    y[0] = 1e6
    _, with_outlier = median_iqr(y)
    assert with_outlier[0] == pytest.approx(clean[0], rel=0.15)


def test_median_iqr_fallback_ignores_rows_of_zero_weight():
    y = np.r_[np.zeros(80), np.arange(1.0, 21.0)][:, None]
    weight = np.r_[np.ones(80), np.zeros(20)]
    np.testing.assert_array_equal(median_iqr(y, weight), ([0.0], [1.0]))
    weight[-1] = 2.0  # one varying value of positive weight: its deviation
    np.testing.assert_allclose(median_iqr(y, weight)[1], [NORMAL_MAD * 20.0])


def test_the_old_standardize_target_switch_is_refused_with_the_fix():
    # Deprecated in 0.2 ("will be ignored from 0.3"): ignoring it silently
    # would train on a scaled target the user asked not to scale.
    class RawTarget(SquaredError):
        standardize_target = False

    with pytest.raises(TypeError, match=r"RawTarget.standardize_target = False was"):
        RawTarget().target_scaling(Y)
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(TypeError, match=r"return sknnlite.losses.no_scaling\(y\)"):
        NNRegressor([Dense(2), Dense()], loss=RawTarget(), max_iter=1).fit(X, Y[:3])

    class Explicit(SquaredError):
        standardize_target = True  # the old default: nothing changes

    np.testing.assert_array_equal(Explicit().target_scaling(Y), mean_std(Y))


def test_gamma_value_is_half_the_mean_gamma_deviance():
    value = Gamma().value(AMOUNTS, Y_PRED)
    expected = 0.5 * mean_gamma_deviance(AMOUNTS.ravel(), np.exp(Y_PRED).ravel())
    assert value == pytest.approx(expected, rel=1e-12)
    # Zero at a perfect prediction, as a deviance is.
    assert Gamma().value(AMOUNTS, np.log(AMOUNTS)) == pytest.approx(0, abs=1e-15)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_gamma_refuses_non_positive_targets_and_predicts_through_exp(bad):
    with pytest.raises(ValueError, match=r"loss='gamma' needs strictly positive"):
        Gamma().check_target(np.array([[1.0], [bad]]))
    np.testing.assert_allclose(Gamma().inverse_link(np.array([0.0, 1.0])), [1, np.e])
    center, scale = Gamma().target_scaling(np.array([[1.0, 5.0], [3.0, 9.0]]))
    np.testing.assert_array_equal(center, [0.0, 0.0])
    np.testing.assert_array_equal(scale, [1.0, 1.0])


def test_gamma_intercept_only_minimises_the_deviance():
    constant = Gamma().intercept_only(AMOUNTS, WEIGHTS)
    best = Gamma().value(AMOUNTS, np.broadcast_to(constant, AMOUNTS.shape), WEIGHTS)
    for shift in (-0.01, 0.01):
        moved = np.broadcast_to(constant + shift, AMOUNTS.shape)
        assert Gamma().value(AMOUNTS, moved, WEIGHTS) > best


@pytest.mark.parametrize(
    "name", ["squared_error", "absolute_error", "huber", "poisson", "gamma", "quantile"]
)
def test_registered_names_resolve(name):
    assert type(get_loss(name)) is LOSSES[name]


# ------------------------------------------------------- classification losses
N_CLASSES = 4
LOGITS = RNG.normal(scale=3.0, size=(7, N_CLASSES))
ONE_HOT = np.eye(N_CLASSES)[RNG.integers(0, N_CLASSES, size=7)]
SOFT = RNG.dirichlet(np.ones(N_CLASSES), size=7)
INDICATOR = RNG.integers(0, 2, size=(7, N_CLASSES)).astype(float)


@pytest.mark.parametrize("weights", [None, WEIGHTS])
@pytest.mark.parametrize("targets", [ONE_HOT, SOFT], ids=["one_hot", "soft"])
def test_softmax_cross_entropy_gradient(targets, weights):
    report = check_loss_gradient(SoftmaxCrossEntropy(), targets, LOGITS, weights)
    report.raise_if_wrong()


@pytest.mark.parametrize("weights", [None, WEIGHTS])
@pytest.mark.parametrize("n_outputs", [1, N_CLASSES])
def test_sigmoid_cross_entropy_gradient(n_outputs, weights):
    targets, logits = INDICATOR[:, :n_outputs], LOGITS[:, :n_outputs]
    report = check_loss_gradient(SigmoidCrossEntropy(), targets, logits, weights)
    report.raise_if_wrong()


def test_softmax_cross_entropy_value_is_mean_negative_log_likelihood():
    proba = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(proba[ONE_HOT.astype(bool)]))
    assert SoftmaxCrossEntropy().value(ONE_HOT, LOGITS) == pytest.approx(expected)


def test_sigmoid_cross_entropy_value_sums_labels_and_averages_samples():
    proba = 1 / (1 + np.exp(-LOGITS))
    per_label = -(INDICATOR * np.log(proba) + (1 - INDICATOR) * np.log(1 - proba))
    expected = per_label.sum(axis=1).mean()
    assert SigmoidCrossEntropy().value(INDICATOR, LOGITS) == pytest.approx(expected)


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy(), SigmoidCrossEntropy()])
def test_classification_integer_weights_equal_repeated_rows(loss):
    targets = ONE_HOT
    repeats = WEIGHTS.astype(int)
    repeated = loss.value_and_gradient(
        np.repeat(targets, repeats, axis=0), np.repeat(LOGITS, repeats, axis=0)
    )
    weighted = loss.value_and_gradient(targets, LOGITS, WEIGHTS)
    assert weighted[0] == pytest.approx(repeated[0])
    # A row's gradient times its repeat count is the repeated rows' total.
    summed = np.zeros_like(LOGITS)
    np.add.at(summed, np.repeat(np.arange(7), repeats), repeated[1])
    np.testing.assert_allclose(weighted[1], summed, atol=1e-15)


EXTREME = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, -1000.0]])
EXTREME_Y = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("weights", [None, np.array([1.0, 2.0, 3.0])])
@pytest.mark.parametrize(
    "loss, targets, logits, wrong_row_loss",
    [
        (SoftmaxCrossEntropy(), EXTREME_Y, EXTREME, 2000.0),
        (SigmoidCrossEntropy(), EXTREME_Y[:, 1:], EXTREME[:, 1:], 1000.0),
    ],
    ids=["softmax", "sigmoid"],
)
def test_extreme_logits_give_exact_finite_values(
    loss, targets, logits, wrong_row_loss, weights
):
    # Only row 0 is wrong, by a margin that overflows exp and rounds its
    # probability to 0: a naive log(p) would give inf, exp(z) would give nan.
    value, gradient = loss.value_and_gradient(targets, logits.copy(), weights)
    share = 1 / 3 if weights is None else 1 / 6
    assert value == pytest.approx(wrong_row_loss * share)
    expected_row = np.sign(logits[0]) * share
    np.testing.assert_allclose(gradient[0], expected_row)
    np.testing.assert_array_equal(gradient[1:], 0.0)
    # The loss is linear out there, so a wide step gives exact differences.
    check_loss_gradient(loss, targets, logits, weights, eps=1e-3).raise_if_wrong()


ALL_LOSSES = LOSS_CASES + [
    (SoftmaxCrossEntropy(), ONE_HOT),
    (SigmoidCrossEntropy(), INDICATOR),
]


@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss, y", ALL_LOSSES, ids=lambda case: repr(case)[:20])
def test_value_and_gradient_shortcuts_agree_with_the_pair(loss, y, weights):
    logits = LOGITS if y.shape[1] == N_CLASSES else Y_PRED
    value, gradient = loss.value_and_gradient(y, logits.copy(), weights)
    assert loss.value(y, logits.copy(), weights) == value
    np.testing.assert_array_equal(loss.gradient(y, logits.copy(), weights), gradient)
    assert isinstance(value, float) and gradient.shape == y.shape


@pytest.mark.parametrize("loss, y", ALL_LOSSES, ids=lambda case: repr(case)[:20])
def test_float32_outputs_give_float32_gradients(loss, y):
    logits = (LOGITS if y.shape[1] == N_CLASSES else Y_PRED).astype(np.float32)
    value, gradient = loss.value_and_gradient(y.astype(np.float32), logits)
    reference = loss.value(y, logits.astype(np.float64))
    assert gradient.dtype == np.float32
    assert value == pytest.approx(reference, rel=1e-5)


def test_loss_errors_say_what_to_do_in_full():
    with pytest.raises(ValueError) as info:
        Poisson().check_target(np.array([[1.0], [-2.0]]))
    assert str(info.value) == (
        "loss='poisson' needs non-negative targets (counts or rates), but y has "
        "values down to -2.0. Use another loss, such as 'squared_error' or 'huber', "
        "for targets that can be negative."
    )
    Poisson().check_target(np.array([[0.0], [3.0]]))  # zero counts are fine
    with pytest.raises(ValueError) as info:
        get_loss("cubic")
    assert str(info.value) == (
        "loss='cubic' is not a known loss. Use one of ['absolute_error', 'gamma', "
        "'huber', 'poisson', 'quantile', 'squared_error'] or an object with a "
        "value_and_gradient(y, y_pred, sample_weight) method."
    )


def test_huber_default_delta_is_the_measured_one():
    # benchmarks/robust_losses.py --huber: 0.1 stays robust where 1 did not.
    assert Huber().get_params() == {"delta": 0.1}


@pytest.mark.parametrize("n_rows", [3, 4])
@pytest.mark.parametrize("sign", [1, -1])
def test_median_iqr_ignores_one_outlier_among_a_few_rows(n_rows, sign):
    # With 3 rows the empirical quartiles are the smallest and largest
    # value (with 4, the smallest): one outlier made the scale ~7e5.
    y = np.arange(1.0, n_rows + 1)[:, None]
    y[0 if sign > 0 else -1] = sign * 1e6
    center, scale = median_iqr(y)
    assert abs(center[0]) < 10
    assert 0.5 < scale[0] < 5
