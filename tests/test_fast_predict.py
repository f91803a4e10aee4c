"""The validated fast path of predict gives what validate_data's path gives.

``BaseNN._fast_validated`` validates a plain C-ordered float ndarray of the
fitted width without scikit-learn's ``validate_data``. Each test runs the
same call twice, once as shipped and once with the fast path switched off,
and compares results, errors and warnings.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import sknnlite._base
from sknnlite import Dense, NNClassifier, NNRegressor, ReLU
from sknnlite._base import BaseNN

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_FEATURES = 4

METHODS = {
    "regressor": ["predict"],
    "classifier": ["predict", "predict_proba", "decision_function"],
}


def make_model(kind, dtype, feature_names=False):
    """A model of ``kind`` trained two epochs on 60 rows in ``dtype``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, N_FEATURES)).astype(dtype)
    y = X[:, 0] - X[:, 1]
    if feature_names:
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)])
    layers = [Dense(8), ReLU(), Dense()]
    if kind == "regressor":
        return NNRegressor(layers, max_iter=2, random_state=0).fit(X, y)
    return NNClassifier(layers, max_iter=2, random_state=0).fit(X, y > 0)


def outcome(call, X):
    """What ``call(X)`` does: its result or error, and the warnings it gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("returned", call(X))
        except Exception as error:  # noqa: BLE001 - the error is the outcome
            result = ("raised", type(error), str(error))
    return result, [(w.category, str(w.message)) for w in caught]


def both_outcomes(model, method, X, monkeypatch):
    """``(fast, normal)``: outcomes as shipped and without the fast path."""
    fast = outcome(getattr(model, method), X)
    with monkeypatch.context() as patch:
        patch.setattr(BaseNN, "_fast_validated", lambda self, X: None)
        normal = outcome(getattr(model, method), X)
    return fast, normal


def assert_same_outcome(fast, normal):
    """Same result bit for bit (or same error type and message), same warnings."""
    (fast_result, fast_warnings), (normal_result, normal_warnings) = fast, normal
    assert fast_result[0] == normal_result[0], (fast_result, normal_result)
    if fast_result[0] == "returned":
        a, b = fast_result[1], normal_result[1]
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    else:
        assert fast_result == normal_result
    assert fast_warnings == normal_warnings


def rows(dtype, n=3):
    """``n`` C-ordered rows of the fitted width."""
    return np.random.default_rng(1).normal(size=(n, N_FEATURES)).astype(dtype)


CASES = [
    (kind, method, dtype)
    for kind, methods in METHODS.items()
    for method in methods
    for dtype in (np.float64, np.float32)
]


@pytest.mark.parametrize("kind, method, model_dtype", CASES)
@pytest.mark.parametrize("input_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_rows", [1, 2, 3000])
def test_fast_path_is_taken_and_gives_the_normal_result(
    kind, method, model_dtype, input_dtype, n_rows, monkeypatch
):
    model = make_model(kind, model_dtype)
    X = rows(input_dtype, n_rows)

    def no_validate_data(*args, **kwargs):
        raise AssertionError("validate_data was called on the fast path")

    with monkeypatch.context() as patch:
        patch.setattr(sknnlite._base, "validate_data", no_validate_data)
        fast = outcome(getattr(model, method), X)
    assert fast[0][0] == "returned" and fast[1] == []
    assert_same_outcome(fast, both_outcomes(model, method, X, monkeypatch)[1])


def unusual_inputs(dtype):
    """Valid inputs the fast path hands to validate_data (or converts)."""
    X = rows(dtype, 5)
    wide = np.random.default_rng(2).normal(size=(5, 2 * N_FEATURES)).astype(dtype)
    return {
        "fortran": np.asfortranarray(X),
        "strided": wide[:, ::2],
        "list": X.tolist(),
        "int": np.arange(5 * N_FEATURES).reshape(5, N_FEATURES),
        "bool": X > 0,
        "float16": X.astype(np.float16),
        "object": X.astype(object),
        "big-endian": X.astype(X.dtype.newbyteorder(">")),
        "read-only": np.frombuffer(X.tobytes(), dtype=dtype).reshape(X.shape),
    }


def as_matrix(X):
    """``X`` as an ``np.matrix``, which scikit-learn rejects."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(X)


def bad_inputs(dtype):
    """Inputs that validate_data rejects; the fast path must reject them too."""
    X = rows(dtype, 3)
    with_nan, with_inf, with_neg_inf = X.copy(), X.copy(), X.copy()
    with_nan[1, 2] = np.nan
    with_inf[0, 0] = np.inf
    with_neg_inf[2, 3] = -np.inf
    return {
        "nan": with_nan,
        "inf": with_inf,
        "-inf": with_neg_inf,
        # Finite in float64, infinite once converted to a float32 model.
        "overflow": np.full((1, N_FEATURES), 1e300),
        "too wide": rows(dtype, 2)[:, :-1].copy(),
        "too narrow": np.hstack([X, X[:, :1]]),
        "1-D": X[0],
        "3-D": X[None],
        "no rows": np.empty((0, N_FEATURES), dtype=dtype),
        "no columns": np.empty((3, 0), dtype=dtype),
        "strings": np.array([["a"] * N_FEATURES]),
        "objects": np.array([["a", 1.0, 2.0, 3.0]], dtype=object),
        "complex": X.astype(np.complex128),
        "scalar": np.float64(1.0),
        "matrix": as_matrix(X),
    }


@pytest.mark.parametrize("kind, method, dtype", CASES)
def test_unusual_inputs_give_the_normal_result(kind, method, dtype, monkeypatch):
    model = make_model(kind, dtype)
    for name, X in unusual_inputs(dtype).items():
        fast, normal = both_outcomes(model, method, X, monkeypatch)
        assert fast[0][0] == "returned", name
        assert_same_outcome(fast, normal)


@pytest.mark.parametrize("kind, method, dtype", CASES)
def test_bad_inputs_raise_the_normal_errors(kind, method, dtype, monkeypatch):
    model = make_model(kind, dtype)
    for name, X in bad_inputs(dtype).items():
        if name == "overflow" and dtype == np.float64:
            continue  # finite in a float64 model
        fast, normal = both_outcomes(model, method, X, monkeypatch)
        assert fast[0][0] == "raised", (name, fast)
        assert_same_outcome(fast, normal)


@pytest.mark.parametrize("kind, method, dtype", CASES)
def test_an_array_for_a_model_fitted_on_a_dataframe_still_warns(
    kind, method, dtype, monkeypatch
):
    model = make_model(kind, dtype, feature_names=True)
    fast, normal = both_outcomes(model, method, rows(dtype), monkeypatch)
    assert [str(m) for _, m in fast[1]] == [
        f"X does not have valid feature names, but {type(model).__name__} was "
        "fitted with feature names"
    ]
    assert_same_outcome(fast, normal)


def test_the_fast_path_writes_nothing_on_the_model():
    model = make_model("classifier", np.float64)
    before = {k: id(v) for k, v in vars(model).items()}
    layers_before = [dict(vars(layer)) for layer in model.layers_]
    model.predict_proba(rows(np.float64, 1))
    assert {k: id(v) for k, v in vars(model).items()} == before
    assert [dict(vars(layer)) for layer in model.layers_] == layers_before
