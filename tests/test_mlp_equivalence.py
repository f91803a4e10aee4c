"""sknnlite's defaults train exactly as scikit-learn's MLP does.

Given the same initial weights and the same order of rows, a default
``NNRegressor``/``NNClassifier`` with a ReLU network follows MLPRegressor's and
MLPClassifier's training trajectory to rounding error: same initial-weight law,
same batches (``gen_batches``, the last one shorter), same loss and output
activation (identity, logistic for binary and multilabel, softmax for
multiclass), L2 penalty per batch, Adam's and SGD's updates. The first tests
feed MLP's own initial weights (drawn with its private ``_initialize``) through
sknnlite's initialiser registry, with ``shuffle=False``.

Since 0.3.0 an int ``random_state`` also gives MLP's random stream, so seeded
fits are equal outright (the second half): shuffling, early stopping, float32,
other activations, optimizers and schedules, the defaults. The one intended
difference, the gradient of a multi-output squared error (sknnlite: of the
loss it reports, the mean over outputs; MLP: the sum), is pinned too.
"""

import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_iris,
    load_wine,
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.utils import check_random_state

from sknnlite import (
    SGD,
    Dense,
    Identity,
    NNClassifier,
    NNRegressor,
    ReLU,
    Tanh,
    initializers,
)

HIDDEN = (16, 8)
EPOCHS = 6
NO_STOP = {"tol": 0.0, "n_iter_no_change": 10**6}


def _mlp_initial_weights(mlp, X, Y):
    """MLP's initial coefs/intercepts, set on ``mlp`` so a warm fit starts there."""
    mlp._random_state = check_random_state(0)
    mlp.n_features_in_ = X.shape[1]
    units = [X.shape[1], *mlp.hidden_layer_sizes, Y.shape[1]]
    mlp._initialize(Y, units, X.dtype)
    weights = []
    for coef, intercept in zip(mlp.coefs_, mlp.intercepts_, strict=True):
        weights += [coef.copy(), intercept.copy()]
    return weights


def _feed(monkeypatch, weights):
    """Make every Glorot-uniform draw return the next of ``weights``."""
    queue = list(weights)

    def given(shape, fan_in, fan_out, rng, dtype):
        value = queue.pop(0)
        assert value.shape == shape
        return value.astype(dtype, copy=True)

    monkeypatch.setitem(initializers.INITIALIZERS, "glorot_uniform", given)
    return queue


def _network():
    return [Dense(HIDDEN[0]), ReLU(), Dense(HIDDEN[1]), ReLU(), Dense()]


def _fit_both(monkeypatch, mlp, ours, X, y, Y, **fit_params):
    weights = _mlp_initial_weights(mlp, X, Y)
    queue = _feed(monkeypatch, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y, **fit_params)
        ours.fit(X, y, **fit_params)
    assert queue == []  # every layer took MLP's weights
    return mlp, ours


def _standardised(X, y):
    # sknnlite standardises the target itself; a standardised y makes its
    # scaling the identity, so both fit the same numbers.
    X = (X - X.mean(0)) / X.std(0)
    return X, (y - y.mean(0)) / y.std(0)


# 250 rows: batches of 200 and 50, so the short last batch is covered.
@pytest.mark.parametrize(
    "solver, optimizer", [("adam", "adam"), ("sgd", SGD())], ids=["adam", "sgd"]
)
def test_regressor_follows_mlp_trajectory(monkeypatch, solver, optimizer):
    X, y = _standardised(*make_regression(250, 5, noise=10.0, random_state=0))
    mlp = MLPRegressor(
        hidden_layer_sizes=HIDDEN,
        solver=solver,
        max_iter=EPOCHS,
        shuffle=False,
        warm_start=True,
        learning_rate_init=0.01,
        **NO_STOP,
    )
    ours = NNRegressor(
        _network(),
        optimizer=optimizer,
        max_iter=EPOCHS,
        shuffle=False,
        learning_rate=0.01,
        random_state=0,
        **NO_STOP,
    )
    _fit_both(monkeypatch, mlp, ours, X, y, y[:, None])
    np.testing.assert_allclose(ours.loss_curve_, mlp.loss_curve_, rtol=1e-12)
    for theirs, mine in zip(
        mlp.coefs_ + mlp.intercepts_, ours.coefs_ + ours.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-10, atol=1e-12)


def test_regressor_follows_mlp_with_sample_weight(monkeypatch):
    X, y = _standardised(*make_regression(250, 5, noise=10.0, random_state=1))
    weight = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    mlp = MLPRegressor(
        hidden_layer_sizes=HIDDEN,
        max_iter=EPOCHS,
        shuffle=False,
        warm_start=True,
        learning_rate_init=0.01,
        alpha=0.1,
        **NO_STOP,
    )
    ours = NNRegressor(
        _network(),
        max_iter=EPOCHS,
        shuffle=False,
        learning_rate=0.01,
        alpha=0.1,
        random_state=0,
        **NO_STOP,
    )
    # A weighted standardisation would move sknnlite's target scaling off the
    # identity; the weights' mean and spread are what the scaling uses.
    y = y - np.average(y, weights=weight)
    y = y / np.sqrt(np.average(y**2, weights=weight))
    _fit_both(monkeypatch, mlp, ours, X, y, y[:, None], sample_weight=weight)
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-9, atol=1e-12)


def _classification(kind):
    if kind == "binary":
        X, y = make_classification(250, 6, random_state=0)
    elif kind == "multiclass":
        X, y = load_iris(return_X_y=True)
    else:
        X, y = make_multilabel_classification(250, 6, n_classes=3, random_state=0)
    return (X - X.mean(0)) / X.std(0), y


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_classifier_follows_mlp_trajectory(monkeypatch, kind):
    X, y = _classification(kind)
    mlp = MLPClassifier(
        hidden_layer_sizes=HIDDEN,
        max_iter=EPOCHS,
        shuffle=False,
        warm_start=True,
        learning_rate_init=0.01,
        **NO_STOP,
    )
    # MLP binarises the labels with LabelBinarizer (one column for binary).
    labels = LabelBinarizer().fit(y)
    mlp._label_binarizer, mlp.classes_ = labels, labels.classes_
    ours = NNClassifier(
        _network(),
        max_iter=EPOCHS,
        shuffle=False,
        learning_rate=0.01,
        random_state=0,
        **NO_STOP,
    )
    _fit_both(monkeypatch, mlp, ours, X, y, labels.transform(y))
    np.testing.assert_allclose(ours.loss_curve_, mlp.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(
        ours.predict_proba(X), mlp.predict_proba(X), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_array_equal(ours.predict(X), mlp.predict(X))


def test_multi_output_squared_error_differs_from_mlp_only_in_l2_weight(monkeypatch):
    """MLP's gradient is of the sum over outputs, its reported loss the mean.

    sknnlite differentiates the loss it reports (the mean over ``m`` outputs);
    with Adam that is MLP's fit with ``alpha * m``, as this checks.
    """
    X, y = _standardised(*make_regression(250, 5, n_targets=3, random_state=0))
    mlp = MLPRegressor(
        hidden_layer_sizes=HIDDEN,
        max_iter=EPOCHS,
        shuffle=False,
        warm_start=True,
        learning_rate_init=0.01,
        alpha=3 * 0.01,
        epsilon=3e-8,
        **NO_STOP,
    )
    ours = NNRegressor(
        _network(),
        max_iter=EPOCHS,
        shuffle=False,
        alpha=0.01,
        learning_rate=0.01,
        random_state=0,
        **NO_STOP,
    )
    _fit_both(monkeypatch, mlp, ours, X, y, y)
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-8, atol=1e-10)


# Seeded fits: an int random_state draws MLP's initial weights and row orders,
# so a default fit *is* MLP's fit, with shuffling, and with early stopping.


def test_int_random_state_gives_randomstate_stream():
    from sknnlite._base import _make_generator

    ours, legacy = _make_generator(7), np.random.RandomState(7)
    np.testing.assert_array_equal(
        ours.uniform(-1, 1, (3, 4)), legacy.uniform(-1, 1, (3, 4))
    )
    np.testing.assert_array_equal(ours.permutation(50), legacy.permutation(50))
    # Never the global stream, and a fresh stream per call.
    np.testing.assert_array_equal(
        _make_generator(7).random(3), _make_generator(7).random(3)
    )


def _fit_quietly(*models_and_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [model.fit(X, y) for model, X, y in models_and_data]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_seeded_regressor_equals_mlp(dtype, early_stopping, solver):
    # 330 rows: batches of 200 and 130 (or 97 after the validation split).
    X, y = make_regression(330, 6, noise=5.0, random_state=3)
    X = ((X - X.mean(0)) / X.std(0)).astype(dtype)
    settings = {"max_iter": 25, "random_state": 11, "early_stopping": early_stopping}
    mlp = TransformedTargetRegressor(
        MLPRegressor(hidden_layer_sizes=HIDDEN, solver=solver, **settings),
        transformer=StandardScaler(),
    )
    ours = NNRegressor(_network(), optimizer=solver, **settings)
    mlp, ours = _fit_quietly((mlp, X, y), (ours, X, y))
    assert ours.n_iter_ == mlp.regressor_.n_iter_
    tolerance = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(
        ours.loss_curve_, mlp.regressor_.loss_curve_, rtol=tolerance
    )
    np.testing.assert_allclose(
        ours.predict(X), mlp.predict(X), rtol=tolerance, atol=tolerance * y.std()
    )
    if early_stopping:
        np.testing.assert_allclose(
            ours.validation_scores_,
            mlp.regressor_.validation_scores_,
            rtol=tolerance,
            atol=tolerance,
        )


@pytest.mark.parametrize(
    "kind, early_stopping",
    [("binary", False), ("binary", True), ("multiclass", False), ("multilabel", False)],
)
def test_seeded_classifier_equals_mlp(kind, early_stopping):
    X, y = _classification(kind)
    settings = {"max_iter": 30, "random_state": 4, "early_stopping": early_stopping}
    mlp = MLPClassifier(hidden_layer_sizes=HIDDEN, **settings)
    ours = NNClassifier(_network(), **settings)
    mlp, ours = _fit_quietly((mlp, X, y), (ours, X, y))
    assert ours.n_iter_ == mlp.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, mlp.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.predict_proba(X), mlp.predict_proba(X), rtol=1e-9, atol=1e-12
    )


def test_seeded_default_estimators_equal_mlp_defaults():
    """``NNRegressor()`` and ``MLPRegressor()`` (100 ReLUs, 200 epochs, tol rule)."""
    X, y = make_regression(240, 4, noise=10.0, random_state=5)
    X = (X - X.mean(0)) / X.std(0)
    mlp = TransformedTargetRegressor(
        MLPRegressor(random_state=2), transformer=StandardScaler()
    )
    ours = NNRegressor(random_state=2)
    mlp, ours = _fit_quietly((mlp, X, y), (ours, X, y))
    assert ours.n_iter_ == mlp.regressor_.n_iter_ < 200  # stopped by the tol rule
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-9, atol=1e-9)


def _mlp_settings_cases():
    """(id, sknnlite estimator kwargs, MLPRegressor kwargs, standardise y?)."""
    relu = [Dense(HIDDEN[0]), ReLU(), Dense()]
    return [
        (
            "tanh",
            {"layers": [Dense(HIDDEN[0]), Tanh(), Dense()]},
            {"activation": "tanh"},
            True,
        ),
        (
            "identity",
            {"layers": [Dense(HIDDEN[0]), Identity(), Dense()]},
            {"activation": "identity"},
            True,
        ),
        ("lbfgs", {"layers": relu, "optimizer": "lbfgs"}, {"solver": "lbfgs"}, True),
        (
            "sgd-invscaling",
            {
                "layers": relu,
                "optimizer": SGD(schedule="invscaling"),
                "learning_rate": 0.01,
            },
            {
                "solver": "sgd",
                "learning_rate": "invscaling",
                "learning_rate_init": 0.01,
            },
            True,
        ),
        (
            "sgd-adaptive",
            {
                "layers": relu,
                "optimizer": SGD(schedule="adaptive"),
                "learning_rate": 0.01,
            },
            {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.01},
            True,
        ),
        (
            "sgd-momentum",
            {
                "layers": relu,
                "optimizer": SGD(momentum=0.5, nesterov=False),
                "learning_rate": 0.01,
            },
            {
                "solver": "sgd",
                "momentum": 0.5,
                "nesterovs_momentum": False,
                "learning_rate_init": 0.01,
            },
            True,
        ),
        (
            "batch-alpha",
            {"layers": relu, "batch_size": 32, "alpha": 0.1},
            {"batch_size": 32, "alpha": 0.1},
            True,
        ),
        ("poisson", {"layers": relu, "loss": "poisson"}, {"loss": "poisson"}, False),
    ]


@pytest.mark.parametrize(
    "ours_kwargs, mlp_kwargs, standardise",
    [case[1:] for case in _mlp_settings_cases()],
    ids=[case[0] for case in _mlp_settings_cases()],
)
def test_seeded_regressor_equals_mlp_across_settings(
    ours_kwargs, mlp_kwargs, standardise
):
    # Activations, optimizers, schedules, batch size, L2 and the Poisson loss
    # (whose target sknnlite does not rescale, so both fit the raw counts).
    X, y = make_regression(300, 5, noise=5.0, random_state=8)
    X = (X - X.mean(0)) / X.std(0)
    if not standardise:
        y = np.random.default_rng(0).poisson(np.exp(0.3 * X[:, 0] + 0.5)).astype(float)
    mlp = MLPRegressor(
        hidden_layer_sizes=HIDDEN[:1], max_iter=40, random_state=6, **mlp_kwargs
    )
    if standardise:
        mlp = TransformedTargetRegressor(mlp, transformer=StandardScaler())
    ours = NNRegressor(max_iter=40, random_state=6, **ours_kwargs)
    mlp, ours = _fit_quietly((mlp, X, y), (ours, X, y))
    inner = mlp.regressor_ if standardise else mlp
    assert ours.n_iter_ == inner.n_iter_
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("n_iter_no_change", [2, 5])
def test_adaptive_sgd_stops_at_mlps_epoch(n_iter_no_change):
    # The schedule runs its course: the rate is divided by 5 down to 6.4e-7
    # and training stops when the rule fires again (it stopped one patience
    # window early, 133 epochs against 136, before the fix).
    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    settings = {"tol": 1e-3, "n_iter_no_change": n_iter_no_change, "random_state": 0}
    mlp = MLPClassifier(
        hidden_layer_sizes=(16,), solver="sgd", learning_rate="adaptive",
        learning_rate_init=0.05, momentum=0.0, max_iter=300, **settings,
    )  # fmt: skip
    ours = NNClassifier(
        [Dense(16), ReLU(), Dense()], optimizer=SGD(schedule="adaptive", momentum=0.0),
        learning_rate=0.05, max_iter=300, **settings,
    )  # fmt: skip
    mlp, ours = _fit_quietly((mlp, X, y), (ours, X, y))
    assert mlp.n_iter_ < 300  # stopped by the schedule
    assert ours.n_iter_ == mlp.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, mlp.loss_curve_, rtol=1e-9)


def test_seeded_classifier_with_sample_weight_equals_mlp():
    # Several batches of unequal weight: MLP averages the batches' weighted
    # losses by their rows, and its tol rule reads that curve (sknnlite's
    # weight-averaged curve stopped 4 epochs earlier: 180 against 184).
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    weight = np.random.default_rng(0).uniform(0.5, 2, len(y))
    mlp = MLPClassifier(
        hidden_layer_sizes=(16,), max_iter=300, learning_rate_init=0.01, random_state=0
    )
    ours = NNClassifier(
        [Dense(16), ReLU(), Dense()], max_iter=300, learning_rate=0.01, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y, sample_weight=weight)
        ours.fit(X, y, sample_weight=weight)
    assert mlp.n_iter_ < 300  # stopped by the tol rule
    assert ours.n_iter_ == mlp.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, mlp.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(
        ours.predict_proba(X), mlp.predict_proba(X), rtol=1e-7, atol=1e-9
    )
