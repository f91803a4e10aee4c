"""The engine: flat parameter storage, whole-network gradients, pickling."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sknnlite import (
    ELU,
    GELU,
    SELU,
    BatchNorm,
    Dense,
    Dropout,
    LeakyReLU,
    Mish,
    Network,
    ReLU,
    Sigmoid,
    SiLU,
    SquaredError,
    Tanh,
)
from sknnlite.layers import Layer
from sknnlite.testing import check_network_gradients


def _network(layers, n_inputs=3, n_targets=2, dtype=np.float64):
    return Network(layers).build(n_inputs, n_targets, np.random.default_rng(0), dtype)


def test_parameters_are_views_into_one_buffer_with_penalised_first():
    net = _network([Dense(4), ReLU(), Dense()])
    first, last = net.layers[0], net.layers[2]
    for layer in (first, last):
        for name in ("W", "b"):
            assert np.shares_memory(layer.params[name], net.coef)
            assert np.shares_memory(layer.grads[name], net.grad)
    assert net.n_params == 3 * 4 + 4 + 4 * 2 + 2
    assert net.n_decay == 3 * 4 + 4 * 2
    net.coef[: net.n_decay] = 7.0
    assert np.all(first.params["W"] == 7.0) and np.all(last.params["W"] == 7.0)
    assert not np.any(first.params["b"] == 7.0)


def test_last_dense_without_units_takes_number_of_targets():
    net = _network([Dense(4), Tanh(), Dense()], n_targets=5)
    assert net.n_outputs == 5
    assert net.layers[2].units == 5


def test_auto_init_resolves_by_following_activation():
    # As documented in Dense: Glorot before ReLU-like layers, Tanh and the
    # output (measured, issue 15); He before smooth ones; LeCun before SELU.
    stack = [ReLU(), LeakyReLU(), Tanh(), Sigmoid(), GELU(), SiLU(), ELU(), Mish()]
    stack += [SELU()]
    layers = [layer for activation in stack for layer in (Dense(4), activation)]
    net = _network([*layers, Dense()])
    assert [layer.init for layer in net.layers if isinstance(layer, Dense)] == [
        "glorot_uniform",
        "glorot_uniform",
        "glorot_uniform",
        "glorot_uniform",
        "he_uniform",
        "he_uniform",
        "he_uniform",
        "he_uniform",
        "lecun_normal",
        "glorot_uniform",
    ]


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_whole_network_gradient(alpha):
    rng = np.random.default_rng(1)
    net = _network(
        [Dense(5), Tanh(), Dense(4), Sigmoid(), Dense(3), LeakyReLU(), Dense()],
        n_inputs=3,
    )
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    weights = rng.uniform(0, 2, size=8)
    report = check_network_gradients(net, SquaredError(), X, y, weights, alpha=alpha)
    report.raise_if_wrong()
    assert len(report.errors) == 8


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_relu_network_with_one_output_gradient(alpha):
    # The fast paths: ReLU's float mask, Dense's contiguous W.T and ones-vector
    # bias gradient, and the broadcast input gradient of a one-unit Dense.
    rng = np.random.default_rng(2)
    layers = [Dense(5), ReLU(), Dense(4), ReLU(), Dense()]
    net = _network(layers, n_inputs=3, n_targets=1)
    X, y = rng.normal(size=(9, 3)), rng.normal(size=(9, 1))
    report = check_network_gradients(net, SquaredError(), X, y, None, alpha=alpha)
    report.raise_if_wrong()
    assert len(report.errors) == 6 and net.layers[-1].params["W"].shape == (4, 1)


def test_gradient_check_names_a_wrong_layer():
    class BadScale(Layer):
        def build(self, n_inputs, rng, dtype):
            self.add_param("s", np.ones(n_inputs, dtype=dtype))
            return n_inputs

        def forward(self, x, training=False):
            self._x = x
            return x * self.params["s"]

        def backward(self, grad_out):
            self.grads["s"][...] = 2 * (grad_out * self._x).sum(axis=0)  # wrong
            return grad_out * self.params["s"]

    net = _network([Dense(3), BadScale(), Dense()])
    rng = np.random.default_rng(0)
    report = check_network_gradients(
        net, SquaredError(), rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    )
    assert not report.ok
    assert report.worst[0] == "layers[1].params['s']"
    with pytest.raises(AssertionError, match=r"layers\[1\]"):
        report.raise_if_wrong()


def test_layer_that_replaces_its_grads_is_refused():
    class Rebinding(Layer):
        def build(self, n_inputs, rng, dtype):
            self.add_param("s", np.ones(n_inputs, dtype=dtype))
            return n_inputs

        def forward(self, x, training=False):
            return x * self.params["s"]

        def backward(self, grad_out):
            self.grads["s"] = grad_out.sum(axis=0)
            return grad_out

    net = _network([Dense(3), Rebinding(), Dense()])
    net.backward(net.forward(np.ones((2, 3)), training=True))
    with pytest.raises(RuntimeError, match=r"layers\[1\] \(Rebinding\).*in place"):
        net.check_grads_bound()


def test_pickle_round_trip_rebinds_views():
    net = _network([Dense(4), ReLU(), Dense()])
    X = np.random.default_rng(0).normal(size=(5, 3))
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.coef, net.coef)
    np.testing.assert_array_equal(restored.predict(X), net.predict(X))
    assert np.shares_memory(restored.layers[0].params["W"], restored.coef)
    assert np.shares_memory(restored.layers[2].grads["b"], restored.grad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deepcopy_owns_its_buffers_and_keeps_layer_state(dtype):
    net = _network([Dense(4), BatchNorm(), ReLU(), Dense()], dtype=dtype)
    x = np.random.default_rng(1).normal(size=(6, 3)).astype(dtype)
    net.forward(x, training=True)  # fills scratch buffers, moves running stats
    twin = copy.deepcopy(net)
    assert twin.coef.dtype == dtype and twin.coef is not net.coef
    np.testing.assert_array_equal(twin.coef, net.coef)
    for layer in twin.layers:
        for name in layer.params:
            assert np.shares_memory(layer.params[name], twin.coef)
            assert np.shares_memory(layer.grads[name], twin.grad)
            assert not np.shares_memory(layer.params[name], net.coef)
    np.testing.assert_array_equal(
        twin.layers[1].running_mean_, net.layers[1].running_mean_
    )
    np.testing.assert_array_equal(twin.predict(x), net.predict(x))
    twin.coef += 1.0
    twin.forward(x, training=True)
    assert not np.array_equal(twin.predict(x), net.predict(x))
    assert not np.array_equal(twin.layers[1].running_mean_, net.layers[1].running_mean_)


def test_chunked_predict_equals_one_pass():
    net = _network([Dense(4), ReLU(), Dense()])
    X = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(
        net.predict(X, chunk_rows=7), net.forward(X).copy(), rtol=1e-12
    )


def test_float32_network_keeps_float32():
    net = _network([Dense(4), Sigmoid(), Dense()], dtype=np.float32)
    X = np.ones((3, 3), dtype=np.float32)
    assert net.coef.dtype == np.float32
    assert net.predict(X).dtype == np.float32
    # Gradients too: a float64 grad would make every float32 step mix dtypes.
    assert net.grad.dtype == np.float32
    assert net.layers[0].grads["W"].dtype == np.float32


def test_non_layer_in_stack_is_refused_with_index():
    with pytest.raises(TypeError, match=r"layers\[1\] is a int.*write Dense\(8\)"):
        _network([Dense(4), 8, Dense()])


def test_unknown_name_in_stack_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match=r"layers\[1\] is 'rleu'.*'relu', 'selu'"):
        _network([Dense(4), "rleu", Dense()])


def test_build_replaces_activation_names_by_their_layers():
    net = _network([Dense(4), "tanh", Dense()])
    assert isinstance(net.layers[1], Tanh)


def test_inference_between_forward_and_backward_changes_no_gradient():
    # Inference never writes into what training cached: predicting (say, a
    # validation set) between a training forward and its backward is harmless.
    from sknnlite import ELU, GELU, SELU, BatchNorm, Mish, SiLU, Softplus

    layers = [
        Dense(6), BatchNorm(), Dense(5), BatchNorm(), ReLU(), Dense(5), Tanh(),
        Dense(5), Sigmoid(), Dense(5), ELU(), Dense(5), SELU(), Dense(5), GELU(),
        Dense(5), SiLU(), Dense(5), Mish(), Dense(5), Softplus(), Dense(5), LeakyReLU(),
        Dense(),
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    X, other = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    grad_out = rng.normal(size=(8, 2))

    def gradient(interleave):
        net = _network([clone(layer) for layer in layers])
        net.forward(X, training=True)
        if interleave:
            net.predict(other)
        net.backward(grad_out.copy())
        return net.grad.copy()

    np.testing.assert_array_equal(gradient(True), gradient(False))


def test_inference_between_forward_and_backward_keeps_the_dropout_mask():
    from sknnlite import Dropout

    net = _network([Dense(6), Dropout(0.5), Dense()])
    rng = np.random.default_rng(0)
    X, other = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    grad_out = rng.normal(size=(8, 2))
    state = net.layers[1].rng_.bit_generator.state
    net.forward(X, training=True)
    net.backward(grad_out.copy())
    expected = net.grad.copy()
    net.layers[1].rng_.bit_generator.state = state
    net.forward(X, training=True)
    net.predict(other)
    net.backward(grad_out.copy())
    np.testing.assert_array_equal(net.grad, expected)


def test_checked_inference_is_inference():
    # forward(check=True) at inference checks each layer but must still call
    # it as inference: BatchNorm uses its running statistics and keeps them.
    net = _network([Dense(4), BatchNorm(), Dense()])
    X = np.random.default_rng(0).normal(size=(5, 3))
    running = net.layers[1].running_mean_.copy()
    np.testing.assert_array_equal(net.forward(X, check=True), net.predict(X))
    np.testing.assert_array_equal(net.layers[1].running_mean_, running)


def test_checked_inference_names_a_layer_without_forward():
    class NoForward(Layer):
        def build(self, n_inputs, rng, dtype):
            return n_inputs

    net = _network([Dense(3), NoForward(), Dense()])
    with pytest.raises(NotImplementedError, match=r"^layers\[1\] \(NoForward\) does"):
        net.forward(np.ones((2, 3)), check=True)


def test_restore_refuses_a_snapshot_of_another_stack():
    net = _network([Dense(4), BatchNorm(), Dense()])
    coef, states = net.snapshot()
    with pytest.raises(ValueError, match="zip"):
        net.restore((coef, states[:-1]))


def test_pickled_state_holds_no_buffer():
    # The layers carry the parameter values; coef, grad and the penalty's
    # scratch buffer would only double the size of a saved model.
    net = _network([Dense(4), ReLU(), Dense()])
    net.add_l2_penalty(0.1)
    assert "_penalty_grad" in net.__dict__
    assert not {"coef", "grad", "_penalty_grad"} & net.__getstate__().keys()


def test_unpickling_a_0_1_0_state_keeps_its_dtype():
    # sknnlite 0.1.0 pickled the dtype as a numpy.dtype under "dtype".
    net = _network([Dense(4), ReLU(), Dense()], dtype=np.float32)
    state = net.__getstate__()
    state["dtype"] = np.dtype(state.pop("_dtype_name"))
    old = Network.__new__(Network)
    old.__setstate__(state)
    assert old.dtype == np.float32 and old.coef.dtype == np.float32
    np.testing.assert_array_equal(old.coef, net.coef)


def test_an_int_in_the_stack_gets_the_full_hint():
    with pytest.raises(TypeError) as info:
        _network([Dense(4), 8, Dense()])
    message = str(info.value)
    assert (
        "not a Layer. Every element of layers must be a sknnlite layer such as "
        "Dense(64) or ReLU()"
    ) in message
    assert "For a hidden layer of 8 units" in message


def test_set_layer_params_copies_a_replacement_before_a_later_nested_setting():
    # layers__0__units copies element 0; layers__0 then replaces it by the
    # caller's object, which layers__0__init must copy again, not modify.
    from sknnlite.network import set_layer_params

    replacement = Dense(8)
    settings = {
        "layers__0__units": 16,
        "layers__0": replacement,
        "layers__0__init": "he_uniform",
    }
    new_layers = set_layer_params([Dense(4), ReLU(), Dense()], settings)
    assert replacement.init != "he_uniform"
    assert new_layers[0] is not replacement and new_layers[0].init == "he_uniform"


def test_predict_returns_a_new_array_when_the_network_returns_its_input():
    # Dropout at inference returns x itself: predict must still copy it.
    from sknnlite import Dropout

    net = _network([Dropout(0.5)])
    X = np.random.default_rng(0).normal(size=(4, 3))
    output = net.predict(X)
    np.testing.assert_array_equal(output, X)
    assert not np.shares_memory(output, X)


def test_chunked_float32_predict_keeps_float32():
    net = _network([Dense(4), Sigmoid(), Dense()], dtype=np.float32)
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    output = net.predict(X, chunk_rows=2)
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, net.predict(X), rtol=1e-5, atol=1e-6)


def test_predict_names_a_last_layer_that_returns_a_list():
    class ListOutput(Layer):
        def build(self, n_inputs, rng, dtype):
            return n_inputs

        def forward(self, x, training=False):
            return x.tolist()

    net = _network([Dense(3), ListOutput()])
    with pytest.raises(
        TypeError, match=r"layers\[1\] \(ListOutput\)\.forward returned list"
    ):
        net.predict(np.ones((2, 3)))


def test_l2_penalty_of_a_network_without_penalised_parameters_is_zero():
    # BatchNorm's gamma and beta are not penalised: no block of coef to add to.
    net = _network([BatchNorm()], n_inputs=3)
    assert net.n_decay == 0
    net.grad[...] = 1.0
    assert net.add_l2_penalty(0.5) == 0.0
    np.testing.assert_array_equal(net.grad, 1.0)


def test_row_keys_only_for_a_network_with_a_row_key_layer():
    # Without a layer asking for row keys, no batch pays for hashing its rows.
    plain = _network([Dense(4), ReLU(), Dense()])
    assert plain.row_projection_ is None
    with_dropout = _network([Dense(4), Dropout(0.5), Dense()])
    assert with_dropout.row_projection_.shape == (3,)
