"""Layer contract: gradients, parameter handling, repr and cloning."""

import math
import pickle

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone

from sknnlite import (
    ELU,
    GELU,
    SELU,
    BatchNorm,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Softsign,
    Tanh,
)
from sknnlite.layers import build_layer
from sknnlite.testing import check_layer_gradients

LAYERS = [
    Dense(3),
    Dense(1),
    Dense(2, use_bias=False),
    Dense(3, init="he_normal"),
    ReLU(),
    LeakyReLU(),
    LeakyReLU(negative_slope=0.3),
    Sigmoid(),
    Tanh(),
    Identity(),
    Softplus(),
    ELU(),
    ELU(alpha=0.5),
    SELU(),
    GELU(),
    SiLU(),
    Mish(),
    Softsign(),
    Dropout(0.5),
    BatchNorm(),
]


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_layer_gradients_match_finite_differences(layer):
    report = check_layer_gradients(clone(layer), n_inputs=4, n_samples=6)
    report.raise_if_wrong()
    assert report.worst[1] < 1e-6


def test_dense_exposes_params_and_grads_with_identical_keys():
    layer = Dense(5)
    width = build_layer(layer, 3, np.random.default_rng(0), np.float64)
    assert width == 5
    assert set(layer.params) == set(layer.grads) == {"W", "b"}
    assert layer.params["W"].shape == (3, 5) and layer.grads["W"].shape == (3, 5)
    assert layer.decayed == ["W"]


def test_dense_backward_does_not_update_parameters():
    layer = Dense(4)
    build_layer(layer, 3, np.random.default_rng(0), np.float64)
    before = {k: v.copy() for k, v in layer.params.items()}
    layer.forward(np.ones((2, 3)), training=True)
    layer.backward(np.ones((2, 4)))
    for name, value in before.items():
        np.testing.assert_array_equal(layer.params[name], value)


def test_sigmoid_is_stable_for_large_inputs():
    layer = Sigmoid()
    build_layer(layer, 3, np.random.default_rng(0), np.float64)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_softplus_is_stable_for_large_inputs():
    layer = Softplus()
    build_layer(layer, 2, np.random.default_rng(0), np.float64)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(np.array([[-1000.0, 1000.0]]), training=True)
        grad = layer.backward(np.ones((1, 2)))
    np.testing.assert_allclose(out, [[0.0, 1000.0]])
    np.testing.assert_allclose(grad, [[0.0, 1.0]])


def test_relu_matches_maximum_and_zeroes_the_gradient_where_not_positive():
    layer = ReLU()
    build_layer(layer, 4, np.random.default_rng(0), np.float64)
    x = np.array([[-np.inf, -2.0, 0.0, 3.0], [1e-300, -1e-300, 5.0, -0.5]])
    expected = np.maximum(x, 0)
    np.testing.assert_array_equal(layer.forward(x, training=False), expected)
    np.testing.assert_array_equal(layer.forward(x, training=True), expected)
    grad = layer.backward(np.full(x.shape, 2.0))
    np.testing.assert_array_equal(grad, np.where(x > 0, 2.0, 0.0))


@pytest.mark.parametrize(
    "layer, text",
    [
        (Dense(64), "Dense(64)"),
        (Dense(), "Dense()"),
        (Dense(8, use_bias=False), "Dense(8, use_bias=False)"),
        (LeakyReLU(negative_slope=0.2), "LeakyReLU(0.2)"),
        (ReLU(), "ReLU()"),
    ],
)
def test_repr_reads_like_code(layer, text):
    assert repr(layer) == text


def test_layers_are_scikit_learn_parameter_holders():
    layer = Dense(16, init="glorot_normal")
    assert layer.get_params() == {
        "units": 16,
        "init": "glorot_normal",
        "bias_init": "auto",
        "use_bias": True,
    }
    copy = clone(layer)
    assert copy is not layer and copy.get_params() == layer.get_params()
    assert layer.set_params(units=8) is layer and layer.units == 8
    with pytest.raises(ValueError, match="Invalid parameter 'size' for Dense"):
        layer.set_params(size=3)


def test_pickled_layer_drops_scratch_buffers_but_keeps_params():
    layer = Dense(3)
    build_layer(layer, 2, np.random.default_rng(0), np.float64)
    layer.forward(np.ones((4, 2)), training=True)
    restored = pickle.loads(pickle.dumps(layer))
    assert not any(key.startswith("_") for key in vars(restored))
    np.testing.assert_array_equal(restored.params["W"], layer.params["W"])


def test_unknown_initialiser_lists_valid_names():
    with pytest.raises(ValueError, match="he_uniform"):
        build_layer(Dense(3, init="bogus"), 2, np.random.default_rng(0), np.float64)


@pytest.mark.parametrize("layer", [ELU(), SELU(), GELU(), SiLU(), Mish(), Softsign()])
def test_new_activations_are_finite_for_large_inputs(layer):
    build_layer(layer, 3, np.random.default_rng(0), np.float64)
    x = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(x, training=True).copy()
        grad = layer.backward(np.ones((1, 3)))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    unbounded = not isinstance(layer, Softsign)
    assert out[0, 2] >= 1000.0 if unbounded else out[0, 2] == pytest.approx(1, 1e-2)


def test_new_activations_match_their_definitions():
    x = np.linspace(-3, 3, 13)[None, :]
    sigmoid = 1 / (1 + np.exp(-x))
    expected = {
        ELU(): np.where(x > 0, x, np.expm1(x)),
        GELU(): x * 0.5 * (1 + np.vectorize(math.erf)(x / np.sqrt(2))),
        SiLU(): x * sigmoid,
        Mish(): x * np.tanh(np.log1p(np.exp(x))),
        Softsign(): x / (1 + np.abs(x)),
    }
    for layer, want in expected.items():
        build_layer(layer, x.shape[1], np.random.default_rng(0), np.float64)
        np.testing.assert_allclose(layer.forward(x), want, rtol=1e-12, atol=1e-15)


def _built_bias(layer, n_inputs, seed=0):
    build_layer(layer, n_inputs, np.random.default_rng(seed), np.float64)
    return layer.params["b"]


@pytest.mark.parametrize(
    "init, distribution, args",
    [
        # A bias of 2000 units drawn like one more row of W: 30 inputs, 2000 outputs.
        ("glorot_uniform", "uniform", (-math.sqrt(6 / 2030), 2 * math.sqrt(6 / 2030))),
        ("he_uniform", "uniform", (-math.sqrt(6 / 30), 2 * math.sqrt(6 / 30))),
        ("he_normal", "norm", (0, math.sqrt(2 / 30))),
        ("lecun_normal", "norm", (0, math.sqrt(1 / 30))),
    ],
)
def test_default_bias_is_drawn_like_the_weights(init, distribution, args):
    bias = _built_bias(Dense(2000, init=init), n_inputs=30)
    assert stats.kstest(bias, distribution, args=args).pvalue > 0.01
    # The same law with a tenth of the spread is rejected: the test has power.
    wrong = (args[0] / 10, args[1] / 10)
    assert stats.kstest(bias, distribution, args=wrong).pvalue < 1e-6


def test_bias_init_can_be_zeros_or_another_initialiser():
    assert np.all(_built_bias(Dense(50, bias_init="zeros"), n_inputs=4) == 0)
    bias = _built_bias(Dense(2000, init="glorot_uniform", bias_init="he_uniform"), 8)
    bound = math.sqrt(6 / 8)
    assert stats.kstest(bias, "uniform", args=(-bound, 2 * bound)).pvalue > 0.01
    with pytest.raises(ValueError, match="bias_init"):
        Dense(3, bias_init="ones").validate_params()
