"""Wide layers: block-wise optimizer steps and penalty, Dense's input gradient.

Adam, SGD and the L2 penalty work on cache-sized blocks of the parameter
vector (``optimizers.BLOCK_BYTES``); a wide Dense layer multiplies by the
transposed view of ``W``. These tests pin the results to references: the
whole-vector computation (bit for bit) and scikit-learn's MLP optimizers.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

import sknnlite.optimizers
from sknnlite import SGD, Adam, Dense, NNRegressor, ReLU
from sknnlite.layers import _COPY_TRANSPOSE_MAX
from sknnlite.network import Network
from sknnlite.optimizers import cache_blocks

WHOLE = 2**40  # BLOCK_BYTES that makes one block of any vector
BLOCK_BYTES = 2**10  # small blocks, so that short vectors span several


def block_elements(dtype):
    return BLOCK_BYTES // np.dtype(dtype).itemsize


def sizes(dtype):
    """Vector sizes around multiples of the block."""
    block = block_elements(dtype)
    return [1, block - 1, block, block + 1, 3 * block + 5]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cache_blocks_cover_the_vector_in_order(dtype, monkeypatch):
    monkeypatch.setattr(sknnlite.optimizers, "BLOCK_BYTES", BLOCK_BYTES)
    for size in sizes(dtype) + [0]:
        index = np.arange(size)
        parts = [index[part] for part in cache_blocks(np.empty(size, dtype))]
        joined = np.concatenate(parts) if parts else index
        assert np.array_equal(joined, index)
        assert all(part.size <= block_elements(dtype) for part in parts)


def run_steps(optimizer, size, dtype, n_steps=4):
    """Parameters after ``n_steps`` steps on seeded gradients."""
    rng = np.random.default_rng(size)
    params = rng.normal(size=size).astype(dtype)
    optimizer.initialize(params)
    for _ in range(n_steps):
        optimizer.step(params, rng.normal(size=size).astype(dtype), 0.01)
    return params


OPTIMIZERS = [
    lambda: Adam(),
    lambda: SGD(momentum=0.7),
    lambda: SGD(momentum=0.7, nesterov=False),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_block_wise_steps_equal_whole_vector_steps_bit_for_bit(
    make, dtype, monkeypatch
):
    for size in sizes(dtype):
        monkeypatch.setattr(sknnlite.optimizers, "BLOCK_BYTES", WHOLE)
        whole = run_steps(make(), size, dtype)
        monkeypatch.setattr(sknnlite.optimizers, "BLOCK_BYTES", BLOCK_BYTES)
        blocked = run_steps(make(), size, dtype)
        assert blocked.tobytes() == whole.tobytes(), size


@pytest.mark.parametrize(
    "ours, reference",
    [
        (Adam, lambda p: AdamOptimizer(p, learning_rate_init=0.01)),
        (
            lambda: SGD(momentum=0.7),
            lambda p: SGDOptimizer(p, learning_rate_init=0.01, momentum=0.7),
        ),
    ],
)
def test_block_wise_steps_match_scikit_learn_over_many_blocks(
    ours, reference, monkeypatch
):
    monkeypatch.setattr(sknnlite.optimizers, "BLOCK_BYTES", BLOCK_BYTES)
    size = 3 * block_elements(np.float64) + 5
    rng = np.random.default_rng(0)
    params = rng.normal(size=size)
    theirs = [params.copy()]
    optimizer, mlp = ours(), reference(theirs)
    optimizer.initialize(params)
    for _ in range(5):
        grads = rng.normal(size=size)
        mlp.update_params(theirs, [grads.copy()])
        optimizer.step(params, grads, 0.01)
    np.testing.assert_allclose(params, theirs[0], rtol=1e-12)


def built_network(dtype, width=40):
    """A network of two Dense layers and about 2 * width**2 parameters."""
    layers = [Dense(width), ReLU(), Dense(width), ReLU(), Dense()]
    return Network(layers).build(width, 1, np.random.default_rng(0), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l2_penalty_gradient_equals_the_whole_vector_formula(dtype, monkeypatch):
    monkeypatch.setattr(sknnlite.optimizers, "BLOCK_BYTES", BLOCK_BYTES)
    network = built_network(dtype)
    assert network.n_decay > 3 * block_elements(dtype)
    network.grad[...] = np.random.default_rng(1).normal(size=network.grad.size)
    grad_before = network.grad.copy()
    penalty = network.add_l2_penalty(0.3)
    decayed = network.coef[: network.n_decay]
    expected = grad_before[: network.n_decay] + decayed * dtype(0.3)
    assert network.grad[: network.n_decay].tobytes() == expected.tobytes()
    assert np.array_equal(
        network.grad[network.n_decay :], grad_before[network.n_decay :]
    )
    assert penalty == network.l2_penalty(0.3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("width", [8, 100])  # copy of W.T, then transposed view
def test_dense_input_gradient_is_grad_out_times_w_transposed(dtype, width):
    layer = Dense(width)
    n_inputs = 64
    network = Network([layer, Dense()]).build(
        n_inputs, 1, np.random.default_rng(0), dtype
    )
    assert (layer.params["W"].size > _COPY_TRANSPOSE_MAX) == (width == 100)
    layer.skip_input_grad = False
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, n_inputs)).astype(dtype)
    network.forward(x, training=True)
    grad_out = rng.normal(size=(7, width)).astype(dtype)
    expected = grad_out.astype(np.float64) @ layer.params["W"].T.astype(np.float64)
    grad_in = layer.backward(grad_out.copy())
    assert grad_in.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(grad_in, expected, rtol=tolerance, atol=tolerance)


def test_a_wide_fit_is_the_same_with_whole_vector_steps(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 30))
    y = X[:, 0] - X[:, 1] * X[:, 2]

    def fitted_coef():
        layers = [Dense(200), ReLU(), Dense(200), ReLU(), Dense()]
        model = NNRegressor(layers, batch_size=40, max_iter=3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.fit(X, y).network_.coef.copy()

    blocked = fitted_coef()
    assert len(cache_blocks(blocked)) >= 2
    monkeypatch.setattr(sknnlite.optimizers, "BLOCK_BYTES", WHOLE)
    assert blocked.tobytes() == fitted_coef().tobytes()
