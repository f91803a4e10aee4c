"""skops.io: a fitted model saves, loads and trains on with sknnlite types only."""

import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

from sknnlite import (
    GELU,
    BatchNorm,
    Dense,
    Dropout,
    Huber,
    LeakyReLU,
    NNClassifier,
    NNRegressor,
    Quantile,
    ReLU,
    Residual,
    Sequential,
)

sio = pytest.importorskip("skops.io")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _layers():
    return [Dense(8), BatchNorm(), LeakyReLU(), Dropout(0.2), Dense(8), GELU(), Dense()]


def _classification():
    X, y = make_classification(120, 5, n_informative=3, n_classes=3, random_state=0)
    return X.astype(np.float32), np.array(["ant", "bee", "cat"])[y]


def _regression():
    X, y = make_regression(120, 5, n_targets=2, random_state=0)
    return X, y


CASES = {
    "classifier-adam-float32": (
        lambda: NNClassifier(_layers(), max_iter=3, random_state=0),
        _classification,
    ),
    "classifier-sgd-early-stopping": (
        lambda: NNClassifier(
            _layers(), optimizer="sgd", early_stopping=True, max_iter=3, random_state=0
        ),
        _classification,
    ),
    "regressor-huber": (
        lambda: NNRegressor(_layers(), loss=Huber(), max_iter=3, random_state=0),
        _regression,
    ),
    "regressor-lbfgs": (
        lambda: NNRegressor(
            [Dense(6), ReLU(), Dense()], optimizer="lbfgs", max_iter=3, random_state=0
        ),
        _regression,
    ),
    "regressor-residual-quantile": (
        lambda: NNRegressor(
            [
                Dense(8),
                Residual([Dense(8), "relu", Dropout(0.2), Dense(6)], norm=BatchNorm()),
                Sequential([Residual([Dense(4), "tanh", Dense()])]),
                Dense(),
            ],
            loss=Quantile([0.1, 0.9]),
            max_iter=3,
            random_state=0,
        ),
        _regression,
    ),
}


def _round_trip(model):
    """``model`` saved with skops, and the types its file asks to trust."""
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    return sio.loads(data, trusted=untrusted), untrusted


def _output(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.parametrize("case", CASES)
def test_only_sknnlite_types_need_trust(case):
    make_model, make_data = CASES[case]
    X, y = make_data()
    _, untrusted = _round_trip(make_model().fit(X, y))
    assert untrusted, "an sknnlite model has sknnlite types to trust"
    assert [name for name in untrusted if not name.startswith("sknnlite.")] == []


@pytest.mark.parametrize("case", CASES)
def test_loaded_model_predicts_bitwise_and_trains_on_identically(case):
    make_model, make_data = CASES[case]
    X, y = make_data()
    model = make_model().fit(X, y)
    loaded, _ = _round_trip(model)
    np.testing.assert_array_equal(_output(loaded, X), _output(model, X))
    if model.optimizer != "lbfgs":
        model.partial_fit(X, y)
        loaded.partial_fit(X, y)
        np.testing.assert_array_equal(_output(loaded, X), _output(model, X))
    model.set_params(warm_start=True, max_iter=2).fit(X, y)
    loaded.set_params(warm_start=True, max_iter=2).fit(X, y)
    np.testing.assert_array_equal(_output(loaded, X), _output(model, X))
    assert loaded.loss_curve_ == model.loss_curve_


def test_network_dtype_survives_as_a_numpy_dtype():
    X, y = _classification()
    model = NNClassifier(_layers(), max_iter=2, random_state=0).fit(X, y)
    copies = [_round_trip(model)[0], pickle.loads(pickle.dumps(model))]
    for loaded in [*copies, copy.deepcopy(model)]:
        assert loaded.network_.dtype == np.dtype(np.float32)
        assert isinstance(loaded.network_.dtype, np.dtype)
        assert loaded.predict_proba(X).dtype == np.float32


def test_a_pickle_holding_a_dtype_object_still_loads():
    # Models pickled by sknnlite 0.1.0 stored the numpy.dtype itself.
    X, y = _regression()
    model = NNRegressor([Dense(4), ReLU(), Dense()], max_iter=2, random_state=0)
    model.fit(X, y)
    state = model.network_.__getstate__()
    state["dtype"] = np.dtype(np.float64)
    del state["_dtype_name"]
    network = type(model.network_).__new__(type(model.network_))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        network.__setstate__(state)
    assert network.dtype == np.float64
    np.testing.assert_array_equal(network.coef, model.network_.coef)
