"""The step plan: a training step without per-call lookups, equal bit for bit.

``training.StepPlan`` resolves once per epoch what every mini-batch step
needs (the layers' own passes with their buffers, the loss, the L2 penalty,
the optimizer's blocks). These tests pin it to the reference path, every
batch through ``batch_objective`` and ``Optimizer.step``
(``USE_STEP_PLAN = False``): the fitted parameters and loss curves must be
the same bit for bit. They also check that the plan is really used, and that
layers, losses and optimizers it does not know (subclasses, user-written
ones) still run their own code.
"""

import warnings

import numpy as np
import pytest
from scipy import sparse

from sknnlite import (
    SGD,
    Adam,
    Dense,
    Identity,
    Layer,
    NNClassifier,
    NNRegressor,
    ReLU,
    Tanh,
)
from sknnlite import training as training_module
from sknnlite.losses import AbsoluteError, SquaredError
from sknnlite.network import Network
from sknnlite.normalization import BatchNorm


def data(dtype, n_rows=230):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 7)).astype(dtype)
    y = X[:, 0] - X[:, 1] * X[:, 2]
    return X, y


def fit(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, **fit_params)


def both_ways(make, X, y, monkeypatch, **fit_params):
    """The fitted models with the plan and without it (the reference path)."""
    planned = fit(make(), X, y, **fit_params)
    monkeypatch.setattr(training_module, "USE_STEP_PLAN", False)
    reference = fit(make(), X, y, **fit_params)
    monkeypatch.setattr(training_module, "USE_STEP_PLAN", True)
    return planned, reference


def assert_same_fit(planned, reference):
    assert planned.network_.coef.tobytes() == reference.network_.coef.tobytes()
    assert planned.loss_curve_ == reference.loss_curve_
    assert planned.n_iter_ == reference.n_iter_


class Scale(Layer):
    """A user's layer written against the contract alone."""

    def build(self, n_inputs, rng, dtype):
        self.add_param("s", np.full(n_inputs, 0.9, dtype=dtype))
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self._x = x
        return x * self.params["s"]

    def backward(self, grad_out):
        self.grads["s"][...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.params["s"]


class HalfDense(Dense):
    """A Dense subclass that changes forward: the plan must call it."""

    def forward(self, x, training=False, workspace=None):
        return 0.5 * super().forward(x, training, workspace)


class Doubled(SquaredError):
    """A SquaredError subclass that changes the objective."""

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        value, gradient = super().value_and_gradient(y, y_pred, sample_weight)
        return 2 * value, 2 * gradient


REGRESSORS = {
    "adam, alpha, uneven last batch": lambda: NNRegressor(
        [Dense(16), ReLU(), Dense(16), ReLU(), Dense()],
        batch_size=50,
        alpha=0.01,
        max_iter=4,
        random_state=0,
    ),
    "sgd nesterov, no alpha, tanh": lambda: NNRegressor(
        [Dense(12), Tanh(), Dense()],
        optimizer=SGD(),
        learning_rate=0.01,
        alpha=0.0,
        batch_size=32,
        max_iter=4,
        random_state=0,
    ),
    "sgd plain momentum": lambda: NNRegressor(
        [Dense(12), ReLU(), Dense()],
        optimizer=SGD(nesterov=False),
        learning_rate=0.01,
        batch_size=40,
        max_iter=3,
        random_state=0,
    ),
    "no bias, identity, user layer": lambda: NNRegressor(
        [Dense(9, use_bias=False), Identity(), Scale(), ReLU(), Dense()],
        batch_size=64,
        max_iter=3,
        random_state=0,
    ),
    "dense subclass, loss subclass": lambda: NNRegressor(
        [HalfDense(10), ReLU(), Dense()],
        loss=Doubled(),
        batch_size=64,
        max_iter=3,
        random_state=0,
    ),
    "absolute error, early stopping": lambda: NNRegressor(
        [Dense(10), ReLU(), Dense()],
        loss=AbsoluteError(),
        early_stopping=True,
        batch_size=30,
        max_iter=5,
        random_state=0,
    ),
    "wide, several optimizer blocks": lambda: NNRegressor(
        [Dense(300), ReLU(), Dense(200), ReLU(), Dense()],
        optimizer=Adam(beta_1=0.8),
        batch_size=100,
        max_iter=2,
        random_state=0,
    ),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(REGRESSORS))
def test_a_fit_with_the_plan_equals_the_reference_bit_for_bit(name, dtype, monkeypatch):
    X, y = data(dtype)
    planned, reference = both_ways(REGRESSORS[name], X, y, monkeypatch)
    assert_same_fit(planned, reference)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_classifier_fit_with_the_plan_equals_the_reference(dtype, monkeypatch):
    X, y = data(dtype)
    labels = np.digitize(y, [-0.5, 0.5])  # three classes: softmax cross-entropy

    def make():
        return NNClassifier(
            [Dense(20), ReLU(), Dense()], batch_size=45, max_iter=3, random_state=1
        )

    assert_same_fit(*both_ways(make, X, labels, monkeypatch))


def test_sparse_input_with_the_plan_equals_the_reference(monkeypatch):
    X, y = data(np.float64)
    X[np.abs(X) < 0.8] = 0.0

    def make():
        return NNRegressor(
            [Dense(12), ReLU(), Dense()], batch_size=40, max_iter=3, random_state=0
        )

    assert_same_fit(*both_ways(make, sparse.csr_matrix(X), y, monkeypatch))


def test_partial_fit_with_the_plan_equals_the_reference(monkeypatch):
    X, y = data(np.float64)

    def fitted():
        model = NNRegressor([Dense(12), ReLU(), Dense()], batch_size=50, random_state=0)
        for start in (0, 115):
            model.partial_fit(X[start : start + 115], y[start : start + 115])
        return model

    planned = fitted()
    monkeypatch.setattr(training_module, "USE_STEP_PLAN", False)
    assert_same_fit(planned, fitted())


def count_reference_batches(monkeypatch):
    """Replace batch_objective by a counting wrapper; returns the counter."""
    calls = []
    original = training_module.batch_objective

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(training_module, "batch_objective", counting)
    return calls


def test_only_the_first_batch_of_a_fit_takes_the_reference_path(monkeypatch):
    X, y = data(np.float64)  # 230 rows: 5 batches of 50 per epoch
    calls = count_reference_batches(monkeypatch)
    fit(REGRESSORS["adam, alpha, uneven last batch"](), X, y)
    assert len(calls) == 1  # the checked first batch; the plan does the 19 others
    monkeypatch.setattr(training_module, "USE_STEP_PLAN", False)
    fit(REGRESSORS["adam, alpha, uneven last batch"](), X, y)
    assert len(calls) == 1 + 4 * 5


@pytest.mark.parametrize(
    "case",
    ["sample_weight", "batchnorm"],
)
def test_without_a_plan_every_batch_takes_the_reference_path(case, monkeypatch):
    X, y = data(np.float64)
    layers = [Dense(8), ReLU(), Dense()]
    fit_params = {}
    if case == "sample_weight":
        fit_params["sample_weight"] = np.linspace(0.5, 2.0, len(y))
    else:
        layers.insert(1, BatchNorm())
    calls = count_reference_batches(monkeypatch)
    model = NNRegressor(layers, batch_size=50, max_iter=2, random_state=0)
    fit(model, X, y, **fit_params)
    assert len(calls) == 2 * 5


def test_subclasses_run_their_own_code_inside_the_plan(monkeypatch):
    calls = []

    class Spy(Dense):
        def forward(self, x, training=False, workspace=None):
            calls.append(training)
            return super().forward(x, training, workspace)

    X, y = data(np.float64)
    model = NNRegressor([Spy(8), ReLU(), Dense()], batch_size=50, max_iter=2)
    fit(model, X, y)
    assert calls.count(True) == 2 * 5  # every training batch


def test_training_pass_equals_forward_and_backward_bit_for_bit():
    rng = np.random.default_rng(3)
    layers = [Dense(70), ReLU(), Dense(5), Tanh(), Dense(2)]
    network = Network(layers).build(6, 2, rng, np.float64)
    x, grad_out = rng.normal(size=(11, 6)), rng.normal(size=(11, 2))
    expected_output = network.forward(x, training=True).copy()
    network.backward(grad_out.copy())
    expected_grad = network.grad.copy()
    network.grad[:] = np.nan  # every gradient must be written again
    passes = network.training_pass(11)
    assert passes.forward(x).tobytes() == expected_output.tobytes()
    passes.backward(grad_out.copy())
    assert network.grad.tobytes() == expected_grad.tobytes()


def test_a_training_pass_takes_none_with_per_batch_extras():
    rng = np.random.default_rng(0)
    network = Network([Dense(4), BatchNorm(), Dense(1)]).build(3, 1, rng, np.float64)
    assert network.takes_batch_extras
    assert network.training_pass(5) is None
    assert training_module.StepPlan.make(network, SquaredError(), 0.0) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", [Adam, SGD, lambda: SGD(nesterov=False)])
def test_step_function_equals_step_bit_for_bit(make, dtype):
    rng = np.random.default_rng(0)
    start = rng.normal(size=40_000).astype(dtype)  # two blocks in float64
    grads = [rng.normal(size=start.size).astype(dtype) for _ in range(3)]
    stepped, functional = make(), make()
    by_step, by_function = start.copy(), start.copy()
    stepped.initialize(by_step)
    functional.initialize(by_function)
    grad_buffer = np.empty_like(start)
    step = functional.step_function(by_function, grad_buffer)
    for grad in grads:
        stepped.step(by_step, grad.copy(), 0.01)
        grad_buffer[:] = grad
        step(0.01)
    assert by_function.tobytes() == by_step.tobytes()
    assert functional.n_steps_ == stepped.n_steps_ == 3


def test_step_function_of_a_user_optimizer_calls_its_step():
    class Halving(SGD):
        def step(self, params, grads, learning_rate):
            params *= 0.5

    optimizer = Halving()
    params = np.ones(3)
    optimizer.initialize(params)
    optimizer.step_function(params, np.zeros(3))(0.1)
    np.testing.assert_array_equal(params, 0.5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unweighted_squared_error_equals_value_and_gradient(dtype):
    rng = np.random.default_rng(0)
    y, y_pred = rng.normal(size=(2, 9, 3)).astype(dtype)
    expected_value, expected_gradient = SquaredError().value_and_gradient(y, y_pred)
    value, gradient = SquaredError()._unweighted(9, 3, dtype)(y, y_pred)
    assert value == expected_value
    assert gradient.dtype == dtype
    assert gradient.tobytes() == expected_gradient.tobytes()
