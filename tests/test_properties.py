"""Property-based tests: random small architectures, shapes and settings."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sknnlite import (
    Dense,
    Identity,
    LeakyReLU,
    Network,
    NNRegressor,
    ReLU,
    Sigmoid,
    Softplus,
    SquaredError,
    Tanh,
)
from sknnlite.testing import check_network_gradients

SMOOTH = [Tanh, Sigmoid, Softplus, Identity]
ANY = SMOOTH + [ReLU, LeakyReLU]
# derandomize: the same examples on every run, so the suite is deterministic
# (random test order and reseeding by pytest-randomly do not change them).
FEW = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def stacks(activations):
    """Random stacks: (Dense(k), activation) blocks, then Dense()."""
    block = st.tuples(st.integers(1, 6), st.sampled_from(activations), st.booleans())
    return st.lists(block, min_size=0, max_size=3).map(
        lambda blocks: (
            [
                layer
                for units, activation, bias in blocks
                for layer in (Dense(units, use_bias=bias), activation())
            ]
            + [Dense()]
        )
    )


@FEW
@given(
    layers=stacks(SMOOTH),
    n_inputs=st.integers(1, 4),
    n_targets=st.integers(1, 3),
    alpha=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 1000),
)
def test_random_architectures_pass_the_gradient_check(
    layers, n_inputs, n_targets, alpha, seed
):
    rng = np.random.default_rng(seed)
    network = Network(layers).build(n_inputs, n_targets, rng, np.float64)
    X = rng.normal(size=(5, n_inputs))
    y = rng.normal(size=(5, n_targets))
    weights = rng.uniform(0.1, 2.0, size=5)
    report = check_network_gradients(network, SquaredError(), X, y, weights, alpha)
    report.raise_if_wrong()


@FEW
@given(
    layers=stacks(ANY),
    n_samples=st.integers(2, 30),
    n_features=st.integers(1, 5),
    n_targets=st.integers(0, 3),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_predict_has_the_right_shape_and_dtype(
    layers, n_samples, n_features, n_targets, dtype
):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    y_shape = (n_samples,) if n_targets == 0 else (n_samples, n_targets)
    y = rng.normal(size=y_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = NNRegressor(layers, max_iter=2, random_state=0).fit(X, y)
    prediction = model.predict(X)
    assert prediction.shape == y_shape
    assert prediction.dtype == dtype
    assert np.all(np.isfinite(prediction))


@FEW
@given(
    layers=stacks(ANY),
    learning_rate=st.floats(1e-5, 1.0),
    batch_size=st.one_of(st.just("auto"), st.integers(1, 500)),
)
def test_clone_and_set_params_round_trip(layers, learning_rate, batch_size):
    model = NNRegressor(layers, learning_rate=learning_rate, batch_size=batch_size)
    params = model.get_params(deep=True)
    copy = clone(model)
    assert repr(copy) == repr(model)
    rebuilt = NNRegressor().set_params(**model.get_params(deep=False))
    assert rebuilt.get_params(deep=True).keys() == params.keys()
    nested = {k: v for k, v in params.items() if k.count("__") == 2}
    changed = {key: _another_value(value) for key, value in nested.items()}
    copy.set_params(**changed)
    after = copy.get_params(deep=True)
    assert {key: after[key] for key in changed} == changed
    # The model and its template layers keep their settings.
    assert {k: v for k, v in model.get_params(deep=True).items() if k in nested} == (
        nested
    )
    assert repr(copy) != repr(model)
    assert all(a is not b for a, b in zip(copy.layers, layers, strict=True))


def _another_value(value):
    """A valid setting that differs from ``value`` (units, init, bias, slope)."""
    if isinstance(value, bool):
        return not value
    if value is None or isinstance(value, int):
        return 3 if value is None else value + 1
    if isinstance(value, float):
        return value / 2
    return "glorot_normal" if value != "glorot_normal" else "he_normal"
