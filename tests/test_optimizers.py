"""Optimizers: same updates as scikit-learn's MLP optimizers, and real descent."""

import pickle

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from sknnlite import LBFGS, SGD, Adam
from sknnlite.optimizers import get_optimizer


def _reference_and_ours(ours, reference_factory, n_steps=5):
    rng = np.random.default_rng(0)
    params = rng.normal(size=12)
    reference_params = [params[:8].reshape(2, 4).copy(), params[8:].copy()]
    reference = reference_factory(reference_params)
    ours.initialize(params)
    for _ in range(n_steps):
        grads = rng.normal(size=12)
        reference.update_params(
            reference_params, [grads[:8].reshape(2, 4).copy(), grads[8:].copy()]
        )
        ours.step(params, grads.copy(), 0.01)
    return params, np.concatenate([p.ravel() for p in reference_params])


def test_adam_matches_scikit_learn_adam():
    ours, reference = _reference_and_ours(
        Adam(), lambda p: AdamOptimizer(p, learning_rate_init=0.01)
    )
    np.testing.assert_allclose(ours, reference, rtol=1e-12)


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_matches_scikit_learn_sgd(nesterov):
    ours, reference = _reference_and_ours(
        SGD(momentum=0.7, nesterov=nesterov),
        lambda p: SGDOptimizer(
            p, learning_rate_init=0.01, momentum=0.7, nesterov=nesterov
        ),
    )
    np.testing.assert_allclose(ours, reference, rtol=1e-12)


def _numeric_gradient(function, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (function(x + step) - function(x - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("optimizer", [Adam(), SGD(), SGD(nesterov=False)], ids=repr)
def test_optimizer_minimises_a_quadratic_using_numerical_gradients(optimizer):
    scales = np.array([1.0, 3.0, 0.5, 2.0])

    def objective(x):
        return float(np.sum(scales * (x - 1.0) ** 2))

    params = np.zeros(4)
    optimizer.initialize(params)
    start = objective(params)
    for _ in range(300):
        optimizer.step(params, _numeric_gradient(objective, params), 0.05)
    assert objective(params) < 1e-3 * start


def test_float32_parameters_stay_float32():
    params = np.ones(5, dtype=np.float32)
    optimizer = Adam()
    optimizer.initialize(params)
    optimizer.step(params, np.full(5, 0.5, dtype=np.float32), 0.1)
    assert params.dtype == np.float32 and optimizer.m_.dtype == np.float32


def test_optimizer_object_is_copied_not_shared():
    template = Adam(beta_1=0.8)
    fitted = get_optimizer(template)
    assert fitted is not template and fitted.beta_1 == 0.8


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match=r"\['adam', 'lbfgs', 'sgd'\]"):
        get_optimizer("rmsprop")


def test_lbfgs_minimises_a_quadratic_using_numerical_gradients():
    scales = np.array([1.0, 3.0, 0.5, 2.0])

    def objective(x):
        return float(np.sum(scales * (x - 1.0) ** 2))

    def with_gradient(x):
        return objective(x), _numeric_gradient(objective, x)

    optimizer = LBFGS()
    optimizer.initialize(np.zeros(4))
    result = optimizer.minimize(with_gradient, np.zeros(4), 100, 1e-8, None)
    np.testing.assert_allclose(result.x, np.ones(4), atol=1e-5)
    assert optimizer.n_steps_ == result.nit > 0


def test_lbfgs_has_no_mini_batch_step():
    with pytest.raises(TypeError, match="whole data"):
        LBFGS().step(np.zeros(2), np.zeros(2), 0.1)


def test_sgd_schedules_follow_scikit_learn():
    constant, inverse, adaptive = (
        SGD(schedule=name) for name in ("constant", "invscaling", "adaptive")
    )
    assert constant.epoch_learning_rate(0.1, 0.1, 99) == 0.1
    assert inverse.epoch_learning_rate(0.1, 0.1, 99) == pytest.approx(0.01)
    assert adaptive.epoch_learning_rate(0.1, 0.02, 99) == 0.02
    assert adaptive.reduce_on_plateau(0.1) == pytest.approx(0.02)
    # As MLP's trigger_stopping: divide while the rate is above 1e-6, then stop.
    assert adaptive.reduce_on_plateau(4e-6) == pytest.approx(8e-7)
    assert adaptive.reduce_on_plateau(1e-6) is None
    assert adaptive.reduce_on_plateau(8e-7) is None
    assert constant.reduce_on_plateau(0.1) is None


def _rosenbrock(x):
    value = float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
    grad = np.zeros_like(x)
    grad[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    grad[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return value, grad


@pytest.mark.parametrize(
    "max_corrections, max_fun, max_iter, tol",
    [(2, 15000, 8, 1e-5), (10, 9, 50, 1e-5), (3, 15000, 200, 1e-2)],
    ids=["corrections", "max_fun", "tol"],
)
def test_lbfgs_passes_every_setting_to_scipy(max_corrections, max_fun, max_iter, tol):
    from scipy.optimize import minimize

    start = np.array([-1.2, 1.0, -0.5, 0.8])
    optimizer = LBFGS(max_fun=max_fun, max_corrections=max_corrections)
    optimizer.initialize(start)
    ours = optimizer.minimize(_rosenbrock, start.copy(), max_iter, tol, None)
    options = dict(maxiter=max_iter, maxfun=max_fun, maxcor=max_corrections, gtol=tol)
    reference = minimize(
        _rosenbrock, start, jac=True, method="L-BFGS-B", options=options
    )
    np.testing.assert_array_equal(ours.x, reference.x)
    assert ours.nit == reference.nit and ours.nfev == reference.nfev
    # Each setting is one that changes the result from SciPy's defaults.
    default = minimize(_rosenbrock, start, jac=True, method="L-BFGS-B")
    assert not np.array_equal(ours.x, default.x)


def test_lbfgs_counts_steps_over_calls_and_stops_on_the_callback():
    optimizer = LBFGS()
    optimizer.initialize(np.zeros(4))
    first = optimizer.minimize(_rosenbrock, np.zeros(4), 3, 1e-8, None)
    second = optimizer.minimize(_rosenbrock, first.x, 4, 1e-8, None)
    assert optimizer.n_steps_ == first.nit + second.nit == 7
    seen = []

    def stop_after_two(intermediate_result):
        seen.append(intermediate_result.fun)
        if len(seen) == 2:
            raise StopIteration

    result = optimizer.minimize(_rosenbrock, np.zeros(4), 50, 1e-8, stop_after_two)
    assert result.nit == len(seen) == 2 and optimizer.n_steps_ == 9


@pytest.mark.parametrize("optimizer", [Adam(beta_1=0.8), SGD(momentum=0.3), LBFGS()])
def test_optimizer_templates_pickle_before_and_after_initialize(optimizer):
    template = pickle.loads(pickle.dumps(optimizer))
    assert template.get_params() == optimizer.get_params()
    fitted = get_optimizer(optimizer)
    fitted.initialize(np.ones(3))
    restored = pickle.loads(pickle.dumps(fitted))
    assert "_tmp" not in vars(restored)
    if isinstance(fitted, LBFGS):
        return
    params, restored_params = np.ones(3), np.ones(3)
    fitted.step(params, np.array([0.5, -1.0, 2.0]), 0.1)
    restored.step(restored_params, np.array([0.5, -1.0, 2.0]), 0.1)
    np.testing.assert_array_equal(params, restored_params)


def test_optimizer_errors_say_what_to_do_in_full():
    with pytest.raises(TypeError) as info:
        LBFGS().step(np.zeros(2), np.zeros(2), 0.1)
    assert str(info.value) == "LBFGS works on the whole data set; use minimize()."
    with pytest.raises(ValueError) as info:
        get_optimizer("rmsprop")
    assert str(info.value) == (
        "optimizer='rmsprop' is not a known optimizer. Use one of ['adam', 'lbfgs', "
        "'sgd'] or an Optimizer instance such as Adam(beta_1=0.8)."
    )


def test_sgd_counts_its_steps_and_adaptive_stops_at_1e_6():
    optimizer = SGD()
    params = np.ones(3)
    optimizer.initialize(params)
    for _ in range(3):
        optimizer.step(params, np.ones(3), 0.1)
    assert optimizer.n_steps_ == 3
    adaptive = SGD(schedule="adaptive")
    assert adaptive.reduce_on_plateau(5.5e-6) == pytest.approx(1.1e-6)
    assert adaptive.reduce_on_plateau(1.1e-6) == pytest.approx(2.2e-7)
    assert adaptive.reduce_on_plateau(2.2e-7) is None


@pytest.mark.parametrize(
    "optimizer, settings",
    [
        (
            SGD(),
            {"momentum": 0.9, "nesterov": True, "schedule": "constant", "power_t": 0.5},
        ),
        (Adam(), {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}),
        (LBFGS(), {"max_fun": 15000, "max_corrections": 10}),
    ],
    ids=repr,
)
def test_documented_defaults_are_mlp_defaults(optimizer, settings):
    assert optimizer.get_params() == settings
