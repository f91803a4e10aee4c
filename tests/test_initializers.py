"""Weight initialisers: the distribution and scale each one promises.

Each draw is tested against its stated distribution with a
Kolmogorov-Smirnov test on 20,000 seeded values: a wrong scale (by a few
per cent), a wrong fan or a uniform law in place of a normal one all give
p-values far below the threshold.
"""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from sknnlite import SELU, Dense, NNRegressor, ReLU, Tanh
from sknnlite.initializers import INITIALIZERS, get_initializer

FAN_IN, FAN_OUT = 100, 200

#: name -> the law its values must follow, for fans (FAN_IN, FAN_OUT).
EXPECTED = {
    "he_uniform": stats.uniform(-np.sqrt(6 / FAN_IN), 2 * np.sqrt(6 / FAN_IN)),
    "he_normal": stats.norm(0, np.sqrt(2 / FAN_IN)),
    "glorot_uniform": stats.uniform(
        -np.sqrt(6 / (FAN_IN + FAN_OUT)), 2 * np.sqrt(6 / (FAN_IN + FAN_OUT))
    ),
    "glorot_normal": stats.norm(0, np.sqrt(2 / (FAN_IN + FAN_OUT))),
    "lecun_normal": stats.norm(0, np.sqrt(1 / FAN_IN)),
}


def _draw(name, dtype=np.float64, seed=0):
    initializer = INITIALIZERS[name]
    rng = np.random.default_rng(seed)
    return initializer((FAN_IN, FAN_OUT), FAN_IN, FAN_OUT, rng, dtype)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_initialiser_follows_its_distribution(name):
    values = _draw(name)
    assert values.shape == (FAN_IN, FAN_OUT) and values.dtype == np.float64
    assert stats.kstest(values.ravel(), EXPECTED[name].cdf).pvalue > 0.01
    # The test has power: the same values are far from the neighbouring laws.
    for other, law in EXPECTED.items():
        if other != name:
            assert stats.kstest(values.ravel(), law.cdf).pvalue < 1e-6, other


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initialiser_keeps_the_dtype_and_the_generator_decides(name):
    values = _draw(name, dtype=np.float32)
    assert values.dtype == np.float32 and values.shape == (FAN_IN, FAN_OUT)
    np.testing.assert_array_equal(values, _draw(name, dtype=np.float32))
    if name != "zeros":
        assert not np.array_equal(values, _draw(name, dtype=np.float32, seed=1))


def test_zeros_is_all_zeros_and_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    values = INITIALIZERS["zeros"]((3, 4), 3, 4, rng, np.float32)
    np.testing.assert_array_equal(values, np.zeros((3, 4), np.float32))
    assert rng.bit_generator.state == state


def test_get_initializer_returns_the_registered_function_or_names_the_choices():
    assert get_initializer("lecun_normal") is INITIALIZERS["lecun_normal"]
    with pytest.raises(ValueError, match=r"Dense.init='lecun' is not a known") as info:
        get_initializer("lecun", argument="Dense.init")
    assert str(sorted(INITIALIZERS)) in str(info.value)
    with pytest.raises(ValueError, match=r"^init=\['he_normal'\] is not"):
        get_initializer(["he_normal"])


def _initial_model(layers, n_features=FAN_IN):
    """A model fitted with updates that round to nothing: its weights are initial."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, n_features)), rng.normal(size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return NNRegressor(
            layers, learning_rate=1e-300, max_iter=1, random_state=0
        ).fit(X, y)


@pytest.mark.parametrize(
    "activation, init, law",
    [
        (SELU(), "lecun_normal", stats.norm(0, np.sqrt(1 / FAN_IN))),
        (ReLU(), "glorot_uniform", EXPECTED["glorot_uniform"]),  # as MLP
        (Tanh(), "glorot_uniform", EXPECTED["glorot_uniform"]),
    ],
    ids=["selu", "relu", "tanh"],
)
def test_auto_init_follows_the_next_activation_in_a_network(activation, init, law):
    model = _initial_model([Dense(FAN_OUT), activation, Dense()])
    assert model.layers_[0].init == init
    weights = model.coefs_[0]
    assert weights.shape == (FAN_IN, FAN_OUT)
    assert stats.kstest(weights.ravel(), law.cdf).pvalue > 0.01
    # bias_init="auto": biases drawn like one more row of the weights (as MLP).
    assert stats.kstest(model.intercepts_[0], law.cdf).pvalue > 0.01
    assert np.unique(model.intercepts_[0]).size == FAN_OUT


def test_zero_biases_on_request():
    model = _initial_model([Dense(FAN_OUT, bias_init="zeros"), ReLU(), Dense()])
    np.testing.assert_allclose(model.intercepts_[0], 0.0, atol=1e-290)  # zeros


@pytest.mark.parametrize("init", ["glorot_normal", "lecun_normal", "he_normal"])
def test_explicit_normal_initialisers_in_a_network(init):
    model = _initial_model([Dense(FAN_OUT, init=init), Tanh(), Dense()])
    assert model.layers_[0].init == init
    law = EXPECTED[init]
    assert stats.kstest(model.coefs_[0].ravel(), law.cdf).pvalue > 0.01


def test_selu_network_with_lecun_init_keeps_activations_normalised():
    # Self-normalisation (Klambauer et al., 2017): with LeCun normal weights,
    # standardised inputs keep mean ~0 and variance ~1 through SELU layers.
    layers = [Dense(256), SELU(), Dense(256), SELU(), Dense(256), SELU(), Dense()]
    model = _initial_model(layers, n_features=64)
    x = np.random.default_rng(1).normal(size=(2000, 64))
    for layer in model.layers_[:-1]:
        x = layer.forward(x).copy()
    assert [layer.init for layer in model.layers_[0:6:2]] == ["lecun_normal"] * 3
    assert abs(x.mean()) < 0.05 and abs(x.var() - 1) < 0.1
