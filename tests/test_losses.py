"""Losses: values against the definition and gradients against finite differences."""

import numpy as np
import pytest

from sknnlite import SquaredError
from sknnlite.losses import get_loss
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
