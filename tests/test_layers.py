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
from sknnlite.layers import Layer, Workspace, build_layer
from sknnlite.testing import check_layer, check_layer_gradients

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


@pytest.mark.parametrize(
    "layer", [*LAYERS, Dropout(0.0), Dense(3, use_bias=False)], ids=repr
)
def test_every_built_in_layer_passes_check_layer(layer):
    check_layer(layer, n_inputs=5)


@pytest.mark.parametrize(
    "layer", [Dense(4), ReLU(), Dropout(0.5), BatchNorm()], ids=repr
)
def test_predict_between_forward_and_backward_changes_no_gradient(layer):
    def train_step(predict_between):
        trained = clone(layer)
        rng = np.random.default_rng(0)
        x, grad = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
        build_layer(trained, 4, rng, np.float64)
        trained.forward(x, training=True)
        if predict_between:
            trained.forward(rng.normal(size=(9, 4)), training=False)
        return trained.backward(grad), trained.grads

    grad_in, grads = train_step(predict_between=True)
    alone_grad_in, alone_grads = train_step(predict_between=False)
    np.testing.assert_array_equal(grad_in, alone_grad_in)
    for name, value in grads.items():
        np.testing.assert_array_equal(value, alone_grads[name])


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


@pytest.mark.parametrize(
    "layer, left_slope",
    [
        (ReLU(), 0.0),
        (LeakyReLU(negative_slope=0.2), 0.2),
        (ELU(alpha=0.5), 0.5),
        (SELU(), 1.0507009873554805 * 1.6732632423543772),
    ],
    ids=repr,
)
def test_kinked_activations_use_the_left_derivative_at_zero(layer, left_slope):
    build_layer(layer, 3, np.random.default_rng(0), np.float64)
    x = np.array([[-1e-3, 0.0, 1e-3]])
    out = layer.forward(x, training=True).copy()
    assert out[0, 1] == 0.0
    grad = layer.backward(np.ones((1, 3)))
    assert grad[0, 1] == pytest.approx(left_slope, rel=1e-12)
    right = 1.0507009873554805 if isinstance(layer, SELU) else 1.0
    assert grad[0, 2] == pytest.approx(right, rel=1e-12)


def test_scratch_buffers_are_reused_and_grown_only_when_needed():
    layer = Dense(2)
    first = layer.scratch("_buf", (5, 3), np.float64)
    assert first.shape == (5, 3) and first.dtype == np.float64
    assert np.shares_memory(layer.scratch("_buf", (5, 3), np.float64), first)
    smaller = layer.scratch("_buf", (2, 3), np.float64)
    assert smaller.shape == (2, 3) and np.shares_memory(smaller, first)
    larger = layer.scratch("_buf", (8, 3), np.float64)
    assert larger.shape == (8, 3) and not np.shares_memory(larger, first)
    wider = layer.scratch("_buf", (8, 4), np.float64)
    assert wider.shape == (8, 4) and not np.shares_memory(wider, larger)
    single = layer.scratch("_buf", (8, 4), np.float32)
    assert single.dtype == np.float32 and single.shape == (8, 4)
    assert not np.shares_memory(layer.scratch("_other", (8, 4), np.float32), single)


def test_constant_buffers_are_read_only_filled_and_reused():
    layer = Dense(2)
    ones = layer.constant("_ones", (6,), np.float64, 1)
    np.testing.assert_array_equal(ones, np.ones(6))
    assert not ones.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        ones[0] = 2.0
    fewer = layer.constant("_ones", (4,), np.float64, 1)
    assert fewer.shape == (4,) and np.shares_memory(fewer, ones)
    more = layer.constant("_ones", (9,), np.float64, 1)
    assert more.shape == (9,) and not np.shares_memory(more, ones)
    single = layer.constant("_ones", (9,), np.float32, 1)
    assert single.dtype == np.float32
    wide = layer.constant("_zeros", (3, 2), np.float64, 0)
    np.testing.assert_array_equal(wide, np.zeros((3, 2)))
    taller = layer.constant("_zeros", (3, 5), np.float64, 0)
    assert taller.shape == (3, 5)


def test_layer_zeros_are_read_only_scratch_dropped_on_pickling():
    layer = ReLU()
    zeros = layer.zeros("_zeros", (3, 2), np.float32)
    assert zeros.dtype == np.float32 and not zeros.flags.writeable
    np.testing.assert_array_equal(zeros, np.zeros((3, 2)))
    assert np.shares_memory(layer.zeros("_zeros", (2, 2), np.float32), zeros)
    assert "_zeros" not in pickle.loads(pickle.dumps(layer)).__dict__  # scratch


def test_workspace_buffers_have_the_asked_shape_and_dtype_and_are_reused():
    # Reused from one block of rows to the next (a smaller last block too).
    workspace = Workspace()
    first = workspace.scratch("_out", (4, 3), np.float32)
    assert first.shape == (4, 3) and first.dtype == np.float32
    again = workspace.scratch("_out", (2, 3), np.float32)
    assert again.shape == (2, 3) and np.shares_memory(first, again)
    zeros = workspace.zeros("_zeros", (4, 3), np.float32)
    assert zeros.dtype == np.float32
    np.testing.assert_array_equal(zeros, np.zeros((4, 3)))
    fewer = workspace.zeros("_zeros", (2, 3), np.float32)
    assert fewer.shape == (2, 3) and np.shares_memory(fewer, zeros)
    np.testing.assert_array_equal(fewer, np.zeros((2, 3)))
    inner = workspace.nested(0)
    assert workspace.nested(0) is inner and workspace.nested(1) is not inner
    assert inner.scratch("_out", (4, 3), np.float32) is not first


def test_layer_state_round_trips_through_get_state_and_set_state():
    norm = BatchNorm()
    build_layer(norm, 3, np.random.default_rng(0), np.float64)
    norm.forward(np.arange(12.0).reshape(4, 3), training=True)
    saved = norm.get_state()
    assert set(saved) == {"running_mean_", "running_var_"}
    assert not np.shares_memory(saved["running_mean_"], norm.running_mean_)
    expected = saved["running_mean_"].copy()
    running_mean = norm.running_mean_
    norm.forward(np.ones((4, 3)), training=True)
    norm.set_state(saved)
    assert norm.running_mean_ is running_mean  # written in place
    np.testing.assert_array_equal(norm.running_mean_, expected)
    assert Dense(3).get_state() == {}


def test_the_base_layer_is_the_identity_width_and_leaves_forward_to_subclasses():
    layer = Layer()
    assert build_layer(layer, 7, np.random.default_rng(0), np.float64) == 7
    assert layer.params == {} and layer.grads == {} and layer.decayed == []
    with pytest.raises(NotImplementedError):
        layer.forward(np.ones((2, 7)))
    with pytest.raises(NotImplementedError):
        layer.backward(np.ones((2, 7)))


@pytest.mark.parametrize("setting", ["init", "bias_init"])
def test_dense_build_names_the_setting_with_an_unknown_initialiser(setting):
    # Dense used alone (no estimator validated it first) still names the setting.
    with pytest.raises(ValueError, match=rf"^Dense\.{setting}='he' is not a known"):
        Dense(3, **{setting: "he"}).build(2, np.random.default_rng(0), np.float64)


def test_dense_without_units_explains_where_it_is_allowed():
    with pytest.raises(ValueError) as info:
        build_layer(Dense(), 3, np.random.default_rng(0), np.float64)
    assert str(info.value) == (
        "Dense(units=None) is only allowed as the last Dense layer, where it takes "
        "the number of targets; give the width, e.g. Dense(64)."
    )


@pytest.mark.parametrize(
    "layer, settings",
    [
        (
            Dense(),
            {"units": None, "init": "auto", "bias_init": "auto", "use_bias": True},
        ),
        (LeakyReLU(), {"negative_slope": 0.01}),
        (ELU(), {"alpha": 1.0}),
        (Dropout(), {"rate": 0.5}),
        (BatchNorm(), {"momentum": 0.1, "epsilon": 1e-5}),
    ],
    ids=repr,
)
def test_documented_defaults(layer, settings):
    assert layer.get_params() == settings


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_forward_defaults_to_inference(layer):
    build_layer(layer, 4, np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).normal(size=(6, 4))
    state = {k: v.copy() for k, v in layer.get_state().items()}
    expected = layer.forward(x, training=False).copy()
    np.testing.assert_array_equal(layer.forward(x), expected)
    for name, value in state.items():
        np.testing.assert_array_equal(getattr(layer, name), value)


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_float32_in_float32_out(layer):
    build_layer(layer, 4, np.random.default_rng(0), np.float32)
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    assert layer.forward(x, training=True).dtype == np.float32
    assert layer.backward(
        np.ones((6, layer.forward(x).shape[1]), np.float32)
    ).dtype == (np.float32)
    assert layer.forward(x, training=False).dtype == np.float32
    for name in layer.state_attributes:
        assert getattr(layer, name).dtype == np.float32, name


@pytest.mark.parametrize("layer", [Dense(3), Dropout(0.5), BatchNorm()], ids=repr)
def test_sparse_input_gives_the_dense_result(layer):
    from scipy import sparse

    x = np.random.default_rng(1).normal(size=(6, 4))
    x[x < 0] = 0.0
    dense, other = clone(layer), clone(layer)
    build_layer(dense, 4, np.random.default_rng(0), np.float64)
    build_layer(other, 4, np.random.default_rng(0), np.float64)
    for training in (True, False):
        out = other.forward(sparse.csr_matrix(x), training=training)
        out = out.toarray() if sparse.issparse(out) else out
        np.testing.assert_allclose(out, dense.forward(x, training=training))


def test_dropout_with_rate_zero_passes_its_input_through():
    layer = Dropout(0.0)
    build_layer(layer, 3, np.random.default_rng(0), np.float64)
    x = np.ones((2, 3))
    assert layer.forward(x, training=True) is x


def test_batchnorm_maps_a_constant_feature_to_its_shift():
    layer = BatchNorm()
    build_layer(layer, 2, np.random.default_rng(0), np.float64)
    layer.params["beta"][...] = [0.5, -1.0]
    x = np.column_stack([np.full(5, 3.0), np.arange(5.0)])
    out = layer.forward(x, training=True)
    np.testing.assert_array_equal(out[:, 0], 0.5)
    assert np.all(np.isfinite(out))


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
