"""Losses: values against the definition and gradients against finite differences."""

import numpy as np
import pytest
from sklearn.metrics import mean_poisson_deviance

from sknnlite import AbsoluteError, Huber, Poisson, SquaredError
from sknnlite.losses import LOSSES, get_loss
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
LOSS_CASES = [
    (SquaredError(), Y),
    (AbsoluteError(), Y),
    (Huber(), Y),
    (Huber(delta=0.2), Y),
    (Poisson(), COUNTS),
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
    small = Y + 0.1
    assert Huber(delta=1.0).value(Y, small) == pytest.approx(
        SquaredError().value(Y, small)
    )
    far = Huber(delta=0.5).value_and_gradient(np.zeros((1, 1)), np.full((1, 1), 3.0))
    assert far[0] == pytest.approx(0.5 * (3.0 - 0.25))
    assert far[1][0, 0] == pytest.approx(0.5)


def test_poisson_value_is_half_the_mean_poisson_deviance():
    value = Poisson().value(COUNTS, Y_PRED)
    expected = 0.5 * mean_poisson_deviance(COUNTS.ravel(), np.exp(Y_PRED).ravel())
    assert value == pytest.approx(expected)


def test_poisson_refuses_negative_targets_and_predicts_through_exp():
    with pytest.raises(ValueError, match="non-negative targets"):
        Poisson().check_target(np.array([[1.0], [-2.0]]))
    np.testing.assert_allclose(Poisson().inverse_link(np.array([0.0, 1.0])), [1, np.e])
    assert not Poisson().standardize_target and Huber().standardize_target


@pytest.mark.parametrize(
    "name", ["squared_error", "absolute_error", "huber", "poisson"]
)
def test_registered_names_resolve(name):
    assert type(get_loss(name)) is LOSSES[name]
