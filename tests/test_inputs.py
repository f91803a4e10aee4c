"""Every input handled right or refused clearly (issue 14).

Each case of the issue and each other member of its kind: targets of every
dtype users pass, targets and label sets that change between calls, bools
given as numbers, layer state that a degenerate batch could corrupt, errors
that named the wrong cause or came from NumPy, and pickling that changed the
live model. Every refusal is checked for its type and for naming the problem.
"""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.datasets import make_blobs, make_friedman1
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sknnlite import (
    LBFGS,
    SGD,
    Adam,
    BatchNorm,
    Dense,
    Dropout,
    Huber,
    Layer,
    LeakyReLU,
    NNClassifier,
    NNRegressor,
    ReLU,
    Residual,
    Sequential,
    Tanh,
)
from sknnlite.exceptions import DivergenceWarning
from sknnlite.layers import build_layer
from sknnlite.streaming import fit_chunks, iter_chunks
from sknnlite.training import BatchGatherer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=60, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    return StandardScaler().fit_transform(X), y


def _regressor(**params):
    settings = dict(layers=[Dense(8), ReLU(), Dense()], max_iter=3, random_state=0)
    settings.update(params)
    return NNRegressor(**settings)


def _classifier(**params):
    settings = dict(layers=[Dense(8), ReLU(), Dense()], max_iter=3, random_state=0)
    settings.update(params)
    return NNClassifier(**settings)


def _batchnorm_regressor(**params):
    layers = [Dense(8), BatchNorm(), ReLU(), Dense()]
    return _regressor(layers=layers, **params)


def _state(model):
    """What a refused call must leave as it was."""
    return (
        sorted(vars(model)),
        model.network_.coef.copy(),
        model.optimizer_.get_state(),
        model.n_iter_,
        model.t_,
    )


def _assert_unchanged(model, before):
    after = _state(model)
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1], before[1])
    assert after[3:] == before[3:]
    for key, value in before[2].items():
        np.testing.assert_array_equal(after[2][key], value)


# ------------------------------- case 1: the first partial_fit and classes
def test_first_partial_fit_refuses_labels_missing_from_classes(friedman):
    X = friedman[0][:20]
    model = _classifier()
    with pytest.raises(
        ValueError, match=r"labels \[2\] that are not in classes=\[0, 1\]"
    ):
        model.partial_fit(X, np.arange(20) % 3, classes=[0, 1])
    assert not hasattr(model, "network_")


def test_first_partial_fit_refuses_classes_of_another_type(friedman):
    # Used to fail inside LabelBinarizer: "invalid literal for int()".
    X = friedman[0][:20]
    with pytest.raises(ValueError, match=r"labels \[0, 1\] that are not in classes="):
        _classifier().partial_fit(X, np.arange(20) % 2, classes=["a", "b"])


@pytest.mark.parametrize(
    "classes, message",
    [
        ([[0, 1]], r"classes must be a 1-D list of labels, got an array of shape"),
        ([0], r"classes has only one class \(0\)"),
    ],
)
def test_partial_fit_classes_must_be_a_list_of_two_labels_or_more(
    friedman, classes, message
):
    # classes=[[0, 1]] was taken as a multilabel indicator and trained.
    X = friedman[0][:20]
    with pytest.raises(ValueError, match=message):
        _classifier().partial_fit(X, np.zeros(20, dtype=int), classes=classes)


def test_multiclass_multioutput_y_is_refused_with_the_fix(friedman):
    X = friedman[0][:20]
    y = np.c_[np.arange(20) % 3, np.arange(20) % 2]
    with pytest.raises(
        ValueError, match="multiclass-multioutput.*MultiOutputClassifier"
    ):
        _classifier().fit(X, y)


# ----------------------- case 2: the number of targets changes between calls
@pytest.mark.parametrize("before, after", [(2, 1), (3, 2), (1, 2)])
def test_partial_fit_with_another_number_of_targets_is_refused(friedman, before, after):
    X, y = friedman
    rng = np.random.default_rng(0)
    first = rng.normal(size=(len(y), before)) if before > 1 else y
    model = _regressor().fit(X, first)
    state = _state(model)
    again = rng.normal(size=(len(y), after)) if after > 1 else y
    message = (
        rf"y has {after} target column\(s\) but the model was fitted on {before}.*"
        r"call fit \(partial_fit always continues"
    )
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X, again)
    _assert_unchanged(model, state)


def test_warm_fit_with_another_number_of_targets_names_warm_start(friedman):
    # Used to fail in NumPy's matmul: "Output operand 0 has a mismatch".
    X, y = friedman
    model = _regressor(warm_start=True).fit(X, y)
    state = _state(model)
    with pytest.raises(
        ValueError, match=r"fitted on 1\. Pass y with 1 column.*set warm_start=False"
    ):
        model.fit(X, np.c_[y, y])
    _assert_unchanged(model, state)


def test_a_1d_and_a_one_column_y_are_the_same_single_target(friedman):
    X, y = friedman
    flat = _regressor().fit(X, y).partial_fit(X, y[:, None])
    column = _regressor().fit(X, y[:, None]).partial_fit(X, y)
    assert flat.n_iter_ == column.n_iter_ == 4
    assert flat.predict(X).shape == (len(y),)  # the shape of the first fit
    assert column.predict(X).shape == (len(y), 1)
    np.testing.assert_allclose(flat.predict(X), column.predict(X)[:, 0], rtol=1e-12)


def test_labels_of_another_type_in_a_later_call_are_refused(friedman):
    X = friedman[0][:20]
    model = _classifier().fit(X, np.array(["a", "b"] * 10))
    with pytest.raises(ValueError, match=r"labels \[0, 1\] that are not in classes_="):
        model.partial_fit(X, np.arange(20) % 2)


# --------------------------------- case 3: targets of every dtype users pass
LABEL_COLUMNS = {
    "boolean": (pd.array([True, False, True] * 10, dtype="boolean"), np.bool_),
    "Int64": (pd.array([3, 5, 7] * 10, dtype="Int64"), np.int64),
    "Int8": (pd.array([3, 5, 7] * 10, dtype="Int8"), np.int8),
    "UInt64": (pd.array([3, 5, 7] * 10, dtype="UInt64"), np.uint64),
    "int64[pyarrow]": (pd.array([3, 5, 7] * 10, dtype="int64[pyarrow]"), np.int64),
    "bool[pyarrow]": (pd.array([True, False] * 15, dtype="bool[pyarrow]"), np.bool_),
    "object of bools": (np.array([True, False] * 15, dtype=object), np.bool_),
    "object of ints": (np.array([3, 5, 7] * 10, dtype=object), np.integer),
    "category of ints": (pd.Categorical([3, 5, 7] * 10), np.integer),
}


@pytest.mark.parametrize("name", list(LABEL_COLUMNS))
def test_labels_keep_their_type_whatever_the_column_dtype(friedman, name):
    # scikit-learn turns nullable ints and bools into floats ([0., 1.]) and
    # calls object columns of ints or bools an "unknown" target.
    values, kind = LABEL_COLUMNS[name]
    X = friedman[0][:30]
    model = _classifier().fit(X, pd.Series(values))
    assert np.issubdtype(model.classes_.dtype, kind)
    assert np.issubdtype(model.predict(X).dtype, kind)
    np.testing.assert_array_equal(model.classes_, np.unique(np.asarray(values)))


def test_polars_labels_keep_their_type(friedman):
    pl = pytest.importorskip("polars")
    X = friedman[0][:30]
    model = _classifier().fit(X, pl.Series([True, False, True] * 10))
    assert model.classes_.dtype == np.bool_
    model = _classifier().fit(X, pl.Series(["a", "b", "c"] * 10, dtype=pl.Categorical))
    assert model.classes_.tolist() == ["a", "b", "c"]


MISSING = {
    "boolean NA": lambda: pd.Series([True, False, None] * 10, dtype="boolean"),
    "Int64 NA": lambda: pd.Series([1, 2, None] * 10, dtype="Int64"),
    "string NA": lambda: pd.Series(["a", "b", None] * 10, dtype="string"),
    "object None": lambda: np.array([1, 2, None] * 10, dtype=object),
}


@pytest.mark.parametrize("name", list(MISSING))
@pytest.mark.parametrize("estimator", [_classifier, _regressor])
def test_missing_targets_are_refused_by_name(friedman, name, estimator):
    # Used to fail with "boolean value of NA is ambiguous", "Unknown label
    # type: unknown", or (regressor, None) to train on NaN and blame the
    # learning rate.
    X = friedman[0][:30]
    y = MISSING[name]()
    if estimator is _regressor and name == "string NA":
        y = pd.Series(["1", "2", None] * 10, dtype="string")
    with pytest.raises(ValueError, match="missing value|y contains NaN"):
        estimator().fit(X, y)


@pytest.mark.parametrize("estimator", [_classifier, _regressor])
def test_polars_nulls_in_targets_are_refused_by_name(friedman, estimator):
    pl = pytest.importorskip("polars")
    X = friedman[0][:30]
    for values in ([True, False, None] * 10, ["a", "b", None] * 10, [1, 2, None] * 10):
        if estimator is _regressor and isinstance(values[0], str):
            continue
        with pytest.raises(ValueError, match=r"y has 10 missing value\(s\)"):
            estimator().fit(X, pl.Series(values))


def test_labels_of_mixed_types_are_refused_by_name(friedman):
    X = friedman[0][:30]
    y = np.array([1, "a", 2] * 10, dtype=object)
    with pytest.raises(ValueError, match=r"y mixes labels of different types"):
        _classifier().fit(X, y)


@pytest.mark.parametrize(
    "y",
    [
        pd.Series(pd.date_range("2020-01-01", periods=30)),
        np.arange(30).astype("timedelta64[s]"),
    ],
    ids=["datetime", "timedelta"],
)
def test_regressor_refuses_dates_and_durations(friedman, y):
    # Used to train silently on nanoseconds since 1970.
    with pytest.raises(ValueError, match="needs numeric targets.*dates or durations"):
        _regressor().fit(friedman[0][:30], y)


def test_regressor_takes_a_sparse_y_as_dense(friedman):
    from scipy import sparse

    X, y = friedman
    Y = np.c_[y, -y]
    dense = _regressor().fit(X, Y)
    from_sparse = _regressor().fit(X, sparse.csr_matrix(Y))
    np.testing.assert_array_equal(dense.predict(X), from_sparse.predict(X))


# ------------------------------------------ case 4: BatchNorm and one row
def test_batch_size_below_what_batchnorm_needs_is_refused(friedman):
    # Used to train into one constant prediction (running variance 1e-129).
    model = _batchnorm_regressor(batch_size=1)
    with pytest.raises(
        ValueError, match=r"batch_size=1 is too small for layers\[1\] \(BatchNorm\)"
    ):
        model.fit(*friedman)
    assert not hasattr(model, "network_")


def test_a_one_row_remainder_joins_the_previous_batch():
    X, y = np.zeros((101, 2)), np.zeros((101, 1))
    sizes = [len(b[1]) for b in BatchGatherer(X, y, None, 50, min_rows=2).batches(None)]
    assert sizes == [50, 51]
    order = np.random.default_rng(0).permutation(101)
    shuffled = BatchGatherer(X, y, None, 50, min_rows=2).batches(order)
    assert [len(b[1]) for b in shuffled] == [50, 51]
    plain = BatchGatherer(X, y, None, 50).batches(None)  # no BatchNorm: unchanged
    assert [len(b[1]) for b in plain] == [50, 50, 1]


def test_a_row_left_over_trains_in_the_batch_before_it(friedman):
    # 60 rows in batches of 59: the row left over joins the first batch, so
    # training equals batches of 60. Alone, it pulled the running variance
    # towards 0 at every epoch.
    X, y = friedman
    folded = _batchnorm_regressor(batch_size=59, max_iter=3).fit(X, y)
    whole = _batchnorm_regressor(batch_size=60, max_iter=3).fit(X, y)
    for name in ("running_mean_", "running_var_"):
        np.testing.assert_array_equal(
            getattr(folded.layers_[1], name), getattr(whole.layers_[1], name)
        )
    np.testing.assert_array_equal(folded.predict(X), whole.predict(X))


def test_a_one_row_partial_fit_chunk_is_refused_and_changes_nothing(friedman):
    X, y = friedman
    model = _batchnorm_regressor().partial_fit(X, y)
    state = _state(model)
    running = model.layers_[1].get_state()
    with pytest.raises(
        ValueError,
        match=r"partial_fit got 1 sample\(s\).*layers\[1\] \(BatchNorm\).*chunks of "
        r"at least 2 rows",
    ):
        model.partial_fit(X[:1], y[:1])
    _assert_unchanged(model, state)
    for key, value in running.items():
        np.testing.assert_array_equal(getattr(model.layers_[1], key), value)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_fitting_one_sample_with_batchnorm_is_refused(friedman, optimizer):
    X, y = friedman
    with pytest.raises(ValueError, match=r"fit got 1 sample\(s\) to train on"):
        _batchnorm_regressor(optimizer=optimizer).fit(X[:1], y[:1])


def test_early_stopping_that_leaves_one_training_row_is_refused(friedman):
    X, y = friedman
    model = _batchnorm_regressor(early_stopping=True, validation_fraction=0.5)
    with pytest.raises(ValueError, match=r"after holding out.*got 1 sample\(s\)"):
        model.fit(X[:3], y[:3])


def test_fit_chunks_joins_a_one_row_chunk_to_the_previous_one(friedman):
    X, y = friedman  # 60 rows in chunks of 59
    model = fit_chunks(_batchnorm_regressor(), X, y, chunk_rows=59, random_state=0)
    assert model.n_iter_ == 1
    assert model.t_ == 60


def _built_batchnorm(n_features=3):
    layer = BatchNorm()
    build_layer(layer, n_features, np.random.default_rng(0), np.float64)
    return layer


@pytest.mark.parametrize(
    "weights",
    [np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 5.0, 0.0])],
    ids=["first", "third"],
)
def test_batchnorm_running_statistics_ignore_a_batch_with_one_weighted_row(weights):
    layer = _built_batchnorm()
    x = np.random.default_rng(1).normal(size=(4, 3))
    layer.forward(x, training=True, sample_weight=weights)
    np.testing.assert_array_equal(layer.running_mean_, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var_, np.ones(3))
    layer.forward(x, training=True, sample_weight=np.array([1.0, 1.0, 0.0, 0.0]))
    np.testing.assert_allclose(layer.running_mean_, 0.1 * x[:2].mean(axis=0))


def test_batchnorm_running_statistics_ignore_non_finite_batches():
    layer = _built_batchnorm()
    x = np.random.default_rng(1).normal(size=(4, 3))
    x[0, 1] = np.inf
    with np.errstate(invalid="ignore"):
        layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.running_mean_, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var_, np.ones(3))


def test_weights_leaving_one_row_per_batch_do_not_corrupt_running_statistics(friedman):
    # Bagging-like weights: in every batch of 4 only one row weighs anything.
    X, y = friedman
    weights = np.tile([1.0, 0.0, 0.0, 0.0], 15)
    model = _batchnorm_regressor(batch_size=4, shuffle=False, max_iter=2)
    model.fit(X, y, sample_weight=weights)
    norm = model.layers_[1]
    np.testing.assert_array_equal(norm.running_mean_, np.zeros(8))
    np.testing.assert_array_equal(norm.running_var_, np.ones(8))
    assert np.all(np.isfinite(model.predict(X)))


# ------------------------------------------ case 5: data that overflows
def test_a_new_model_on_huge_X_raises_naming_the_data_first():
    rng = np.random.default_rng(0)
    X = np.finfo(float).max * rng.uniform(size=(10, 2))
    with pytest.raises(ValueError, match="before finishing one epoch") as caught:
        NNRegressor(random_state=0).fit(X, rng.uniform(size=10))
    message = str(caught.value)
    assert message.index("very large values") < message.index("learning rate")


def test_a_fitted_model_diverging_on_huge_X_names_the_data_first(friedman):
    # Its DivergenceWarning used to name the learning rate first.
    X, y = friedman
    model = _regressor().fit(X, y)
    with pytest.warns(DivergenceWarning) as caught:
        model.partial_fit(X * 1e200, y)
    message = str(caught[0].message)
    assert message.index("very large values") < message.index("learning rate")
    assert "the learning rate is not the cause" in message  # no update was made


# scikit-learn's validation casts first and then reports the overflow, with
# NumPy's warnings on the way (as at predict time).
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_float64_X_that_overflows_a_float32_model_is_refused(friedman):
    # partial_fit used to train a float32 network on float64 X without a cast.
    X, y = friedman
    model = _regressor().fit(X.astype(np.float32), y)
    state = _state(model)
    with pytest.raises(ValueError, match=r"infinity or a value too large.*float32"):
        model.partial_fit(X * 1e300, y)
    _assert_unchanged(model, state)
    with pytest.raises(ValueError, match=r"infinity or a value too large.*float32"):
        model.predict(X * 1e300)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_targets_beyond_the_float32_range_are_refused(friedman, loss):
    # Used to fit and then predict inf and NaN (squared error), or to blame
    # the learning rate (Poisson).
    X, y = friedman
    with pytest.raises(ValueError, match=r"y has values up to \S+, beyond the range"):
        _regressor(loss=loss).fit(X.astype(np.float32), y * 1e300)


@pytest.mark.parametrize("scale", [1e308, 1e-321])
def test_sample_weights_whose_total_overflows_are_refused(friedman, scale):
    # Both used to diverge and blame the learning rate.
    X, y = friedman
    with pytest.raises(ValueError, match=r"sample_weight sums to \S+, which float64"):
        _regressor().fit(X, y, sample_weight=np.full(len(y), scale))


@pytest.mark.parametrize("weight", [-1.0, np.nan, "a", np.inf])
def test_class_weights_that_are_not_finite_non_negative_numbers_are_refused(
    blobs, weight
):
    # -1 and NaN used to be blamed on "every sample zero weight"; "a" failed
    # in float().
    X, y = blobs
    with pytest.raises(ValueError, match=r"class_weight has weights that are not"):
        _classifier(class_weight={0: weight, 1: 1.0, 2: 1.0}).fit(X, y)


# ------------------------------------ case 6: pickling leaves the model alone
def _attribute_names(model):
    return (
        sorted(vars(model)),
        [sorted(vars(layer)) for layer in model.layers_],
        sorted(vars(model.network_)),
        sorted(vars(model.optimizer_)),
    )


def _skops_dumps(model):
    sio = pytest.importorskip("skops.io")
    return sio.dumps(model)


@pytest.mark.parametrize(
    "save", [pickle.dumps, copy.deepcopy, copy.copy, _skops_dumps],
    ids=["pickle", "deepcopy", "copy", "skops"],
)  # fmt: skip
def test_saving_or_copying_a_model_does_not_change_it(friedman, save):
    X, y = friedman
    model = _batchnorm_regressor().fit(X, y)
    before = _attribute_names(model)
    save(model)
    assert _attribute_names(model) == before
    assert "_sknnlite_version" not in vars(model)


def test_a_skops_round_trip_predicts_the_same(friedman):
    sio = pytest.importorskip("skops.io")
    X, y = friedman
    model = _batchnorm_regressor().fit(X, y)
    data = sio.dumps(model)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ------------------------------ case 7: what to do instead of continuing
def test_a_warm_fit_with_a_new_label_says_to_set_warm_start_false(blobs):
    X, y = blobs
    model = _classifier(warm_start=True).fit(X, y % 2)
    with pytest.raises(
        ValueError, match=r"labels \[2\] that are not in classes_.*set warm_start=False"
    ) as caught:
        model.fit(X, y)
    assert "call fit to start over" not in str(caught.value)


def test_partial_fit_with_a_new_label_says_to_call_fit(blobs):
    X, y = blobs
    model = _classifier().fit(X, y % 2)
    with pytest.raises(ValueError, match=r"labels \[2\].*call fit \(partial_fit"):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"differs from classes_.*call fit"):
        model.partial_fit(X, y % 2, classes=[0, 1, 2])


def test_a_warm_fit_switching_to_multilabel_says_to_set_warm_start_false(blobs):
    X, y = blobs
    model = _classifier(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"1-D y of class labels.*warm_start=False"):
        model.fit(X, np.eye(3, dtype=int)[y])


# -------------------------------------- bools where numbers are expected
BOOL_SETTINGS = [
    (NNRegressor, {"max_iter": True}, "max_iter"),
    (NNRegressor, {"batch_size": True}, "batch_size"),
    (NNRegressor, {"n_iter_no_change": True}, "n_iter_no_change"),
    (NNRegressor, {"random_state": True}, "random_state"),
    (NNRegressor, {"learning_rate": True}, "learning_rate"),
    (NNRegressor, {"alpha": False}, "alpha"),
    (NNRegressor, {"tol": False}, "tol"),
    (NNClassifier, {"max_iter": True}, "max_iter"),
    (NNRegressor, {"layers": [Dense(True), ReLU(), Dense()]}, "units"),
    (NNRegressor, {"layers": [Dense(4), Dropout(True), Dense()]}, "rate"),
    (NNRegressor, {"layers": [Dense(4), LeakyReLU(True), Dense()]}, "negative_slope"),
    (
        NNRegressor,
        {"layers": [Dense(4), BatchNorm(momentum=True), Dense()]},
        "momentum",
    ),
    (NNRegressor, {"optimizer": SGD(momentum=True)}, "momentum"),
    (NNRegressor, {"optimizer": Adam(beta_1=False)}, "beta_1"),
    (NNRegressor, {"optimizer": LBFGS(max_fun=True)}, "max_fun"),
    (NNRegressor, {"loss": Huber(delta=True)}, "delta"),
]


@pytest.mark.parametrize("estimator, params, name", BOOL_SETTINGS)
def test_a_bool_given_as_a_number_is_refused(friedman, estimator, params, name):
    # Python counts True as 1: max_iter=True trained one epoch, batch_size=True
    # and Dense(True) failed in NumPy with "an integer is required".
    X, y = friedman
    if estimator is NNClassifier:
        y = (y > y.mean()).astype(int)
    with pytest.raises(InvalidParameterError, match=rf"'{name}' parameter.*not a bool"):
        estimator(**params).fit(X, y)


@pytest.mark.parametrize(
    "call",
    [
        lambda X, y: fit_chunks(NNRegressor(), X, y, chunk_rows=True),
        lambda X, y: fit_chunks(NNRegressor(), X, y, chunk_rows=10, n_epochs=True),
        lambda X, y: iter_chunks(X, y, chunk_rows=True),
    ],
    ids=["fit_chunks chunk_rows", "fit_chunks n_epochs", "iter_chunks chunk_rows"],
)
def test_streaming_refuses_a_bool_given_as_a_number(friedman, call):
    with pytest.raises(InvalidParameterError, match="not a bool"):
        call(*friedman)


def test_settings_that_are_bools_still_take_bools(friedman):
    X, y = friedman
    model = _regressor(shuffle=False, warm_start=True, early_stopping=False)
    model.set_params(verbose=False).fit(X, y)
    assert model.n_iter_ == 3


# --------------------- early stopping with the weights meta-estimators give
def test_only_rows_of_positive_weight_are_held_out_for_validation(friedman):
    # 3 rows of 20 weigh anything. A split of all rows often held out none of
    # them (the weighted R² of rows that all weigh 0 is exactly 0.0, whatever
    # the model: early stopping judged nothing), or all of them (then fit
    # raised "Every training sample has zero weight").
    X, y = friedman[0][:20], friedman[1][:20]
    weights = np.r_[np.ones(3), np.zeros(17)]
    for seed in range(10):
        model = _regressor(early_stopping=True, validation_fraction=0.5)
        model.set_params(random_state=seed).fit(X, y, sample_weight=weights)
        scores = np.asarray(model.validation_scores_)
        assert np.all(np.isfinite(scores)) and np.all(scores != 0.0)


def test_too_few_rows_of_positive_weight_for_validation_are_refused(friedman):
    X, y = friedman
    weights = np.r_[np.ones(3), np.zeros(len(y) - 3)]
    with pytest.raises(ValueError, match=r"out of 3 samples of positive sample_weight"):
        _regressor(early_stopping=True).fit(X, y, sample_weight=weights)


def test_a_class_with_one_weighted_row_falls_back_to_a_plain_split(blobs):
    # Only rows of positive weight are split; with one such row in class 2
    # the split cannot be stratified ("The least populated class in y has
    # only 1 member"), so it is a plain random one.
    X, y = blobs
    weights = np.where(y == 2, 0.0, 1.0)
    weights[np.flatnonzero(y == 2)[0]] = 1.0
    model = _classifier(early_stopping=True).fit(X, y, sample_weight=weights)
    assert np.all(np.isfinite(model.validation_scores_))


META_ESTIMATORS = [
    lambda: BaggingRegressor(
        _regressor(early_stopping=True, max_iter=20), n_estimators=3, random_state=0
    ),
    lambda: AdaBoostRegressor(
        _regressor(early_stopping=True, max_iter=20), n_estimators=3, random_state=0
    ),
    lambda: BaggingClassifier(
        _classifier(early_stopping=True, max_iter=20), n_estimators=3, random_state=0
    ),
    # AdaBoost refuses a member worse than chance: 20 steps at the default
    # learning rate are too few to be better, whatever the initialisation.
    lambda: AdaBoostClassifier(
        _classifier(early_stopping=True, max_iter=20, learning_rate=0.05),
        n_estimators=3,
        random_state=0,
    ),
]


@pytest.mark.parametrize(
    "make", META_ESTIMATORS,
    ids=["BaggingRegressor", "AdaBoostRegressor", "BaggingClassifier",
         "AdaBoostClassifier"],
)  # fmt: skip
def test_meta_estimators_with_early_stopping_members(friedman, blobs, make):
    ensemble = make()
    X, y = blobs if "Classifier" in type(ensemble).__name__ else friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ensemble.fit(X, y)
    for member in ensemble.estimators_:
        assert np.all(np.isfinite(member.validation_scores_))
    assert np.all(np.isfinite(ensemble.predict(X)))


@pytest.mark.parametrize("estimator", [NNRegressor, NNClassifier])
@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_mlp_learning_rate_schedule_names_point_to_sgd_schedule(estimator, schedule):
    # MLP's learning_rate="adaptive" is a schedule; here learning_rate is the
    # step size. The plain constraint message gave no pointer to SGD(schedule=).
    X, y = np.ones((6, 2)), np.array([0, 1] * 3)
    with pytest.raises(InvalidParameterError) as info:
        estimator(learning_rate=schedule).fit(X, y)
    message = str(info.value)
    assert f"optimizer=SGD(schedule='{schedule}')" in message
    assert "learning_rate_init" in message


@pytest.mark.parametrize("estimator", [NNRegressor, NNClassifier])
def test_score_refuses_negative_sample_weight_as_fit_does(estimator):
    # score accepted them (R² -2.64 for one weight of -1); fit refused them.
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    model = estimator([Dense(4), ReLU(), Dense()], max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    weights = np.r_[-1.0, np.ones(39)]
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        model.score(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match="sample_weight.shape"):
        model.score(X, y, sample_weight=np.ones(5))
    assert model.score(X, y, sample_weight=np.ones(40)) == model.score(X, y)


class _ScaleRows(Layer):
    """A user's layer written for ndarrays: ``x * a`` (broadcast over rows)."""

    def build(self, n_inputs, rng, dtype):
        self.add_param("a", np.ones(n_inputs, dtype=dtype))
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self._x = x
        return x * self.params["a"]

    def backward(self, grad_out):
        self.grads["a"][...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.params["a"]


@pytest.mark.parametrize(
    "first",
    [Tanh(), "relu", _ScaleRows(), Dropout(0.1), BatchNorm(),
     Residual([Dense(3)]), Sequential([Tanh(), Dense(4)])],
    ids=["tanh", "relu-name", "user-layer", "dropout", "batchnorm", "residual",
         "sequential"],
)  # fmt: skip
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_sparse_X_reaches_a_first_layer_that_is_not_dense_as_dense_rows(
    first, optimizer
):
    # Tanh first failed with "Cannot cast ufunc 'tanh' output from dtype('O')";
    # a user's layer got a sparse matrix, where * is a matrix product.
    X, y = make_friedman1(n_samples=60, random_state=0)
    X[X < 0.5] = 0.0
    layers = [first, Dense(8), ReLU(), Dense()]
    fitted = {}
    for kind, data in [("dense", X), ("sparse", sparse.csr_matrix(X))]:
        model = NNRegressor(layers, optimizer=optimizer, max_iter=3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted[kind] = model.fit(data, y)
    dense, sparse_fit = fitted["dense"], fitted["sparse"]
    np.testing.assert_allclose(
        sparse_fit.network_.coef, dense.network_.coef, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        sparse_fit.predict(sparse.csr_matrix(X)), dense.predict(X), rtol=1e-10
    )


def test_a_non_numeric_target_is_named_not_the_first_value():
    # It named '1.5' (a number) as the problem, not 'x'.
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match=r"\('x' is not a number\)"):
        NNRegressor(max_iter=1).fit(X, np.array(["1.5", "2", "x"]))
