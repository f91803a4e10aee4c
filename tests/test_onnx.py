"""ONNX export: onnxruntime reproduces predict and predict_proba."""

import importlib.util
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import (
    ELU,
    GELU,
    SELU,
    BatchNorm,
    Dense,
    Dropout,
    Identity,
    Layer,
    LeakyReLU,
    Mish,
    NNClassifier,
    NNRegressor,
    Quantile,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    SiLU,
    Softplus,
    Softsign,
    SquaredError,
    Tanh,
)

skl2onnx = pytest.importorskip("skl2onnx")
onnxruntime = pytest.importorskip("onnxruntime")
sknnlite_onnx = pytest.importorskip("sknnlite.onnx")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Tolerance of onnxruntime against NumPy, relative to the largest output:
#: MLPRegressor's own converter reaches 2e-7 (float32) and 4e-16 (float64).
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}

DTYPES = [np.float32, np.float64]


def every_layer():
    """A network that uses every built-in layer once."""
    return [
        Dense(12),
        ReLU(),
        Dense(12),
        LeakyReLU(0.1),
        BatchNorm(),
        Dense(12),
        Sigmoid(),
        Dense(12),
        Tanh(),
        Dense(12),
        Softplus(),
        Dense(12),
        ELU(0.7),
        Dense(12),
        SELU(),
        Dense(12),
        GELU(),
        Dense(12),
        SiLU(),
        Dropout(0.2),
        Dense(12),
        Mish(),
        Dense(12),
        Softsign(),
        Identity(),
        Dense(),
    ]


def run(onx, X):
    """All outputs of the ONNX model ``onx`` on ``X``."""
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def assert_close(actual, expected, dtype):
    """Equal to ``TOLERANCE`` relative to the largest expected magnitude."""
    tolerance = TOLERANCE[dtype] * np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(200, 6, n_targets=2, noise=1.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(
        240, 6, n_informative=4, n_classes=3, n_clusters_per_class=1, random_state=0
    )
    return X, y


def test_importing_sknnlite_imports_no_optional_export_package():
    code = (
        "import sys, sknnlite; "
        "print([m for m in ('skl2onnx', 'onnx', 'onnxruntime', 'skops') "
        "if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("dtype", DTYPES)
def test_regressor_with_every_layer_and_two_outputs(regression, dtype):
    X, y = regression
    X = X.astype(dtype)
    model = NNRegressor(every_layer(), max_iter=15, random_state=0).fit(X, y)
    (output,) = run(skl2onnx.to_onnx(model, X[:1]), X)
    assert output.dtype == dtype and output.shape == (X.shape[0], 2)
    assert_close(output, model.predict(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_regressor_applies_exp_and_gives_a_column(regression, dtype):
    X, y = regression
    X = X.astype(dtype)
    counts = np.floor(np.abs(y[:, 0]) / 20)
    model = NNRegressor(
        [Dense(8), Tanh(), Dense()], loss="poisson", max_iter=30, random_state=0
    ).fit(X, counts)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    assert output.shape == (X.shape[0], 1)  # as skl2onnx's MLPRegressor
    assert_close(output[:, 0], model.predict(X), dtype)


ACTIVATIONS = [
    ReLU(),
    LeakyReLU(0.1),
    Sigmoid(),
    Tanh(),
    Identity(),
    Softplus(),
    ELU(0.7),
    SELU(),
    GELU(),
    SiLU(),
    Mish(),
    Softsign(),
    Dropout(0.3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda layer: type(layer).__name__)
def test_each_activation_matches_numpy_element_by_element(layer, dtype):
    # Inputs over every branch: tails, the erf and erfc ranges, tiny values.
    grid = np.concatenate(
        [np.linspace(-40, 40, 2001), [-1e-30, 1e-30, 1e-8, -1e-8, -700, 700]]
    )
    X = grid.astype(dtype)[:, None]
    model = NNRegressor([layer, Dense()], max_iter=1, random_state=0)
    model.fit(X[:50], np.zeros(50))
    # Read the activation out unchanged: y = 1 * act(x) + 0, not rescaled.
    model.layers_[1].params["W"][...] = 1
    model.layers_[1].params["b"][...] = 0
    shift, scale = sknnlite_onnx._target_shift_and_scale(model)
    shift[...], scale[...] = 0, 1
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    # A few units in the last place of the larger of input and output: where
    # NumPy's own formula cancels (sigmoid's 1 + tanh(x/2) with tanh near -1,
    # times x in SiLU) the two differ by rounding of that size.
    expected = model.predict(X)
    scale = np.maximum(np.abs(expected), np.abs(grid))
    tolerance = {np.float32: 1e-6, np.float64: 1e-14}[dtype]
    error = np.abs(output[:, 0] - expected)
    assert np.all(error <= tolerance * scale), grid[np.argmax(error / scale)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_uses_running_statistics(regression, dtype):
    X, y = regression
    X = (X * 3 + 5).astype(dtype)
    model = NNRegressor([BatchNorm(), Dense()], max_iter=5, random_state=0)
    model.fit(X, y)
    assert not np.allclose(model.layers_[0].running_mean_, 0)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    assert_close(output, model.predict(X), dtype)


def _labels_of(y, kind):
    """Targets of ``kind`` from multiclass ``y``."""
    if kind == "binary":
        return np.array(["no", "yes"])[(y > 0).astype(int)]
    if kind == "multiclass":
        return np.array(["ant", "bee", "cat"])[y]
    return np.column_stack([y == 0, y == 1, y != 1]).astype(int)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_classifier_labels_and_probabilities(classification, kind, dtype):
    X, y = classification
    X = X.astype(dtype)
    target = _labels_of(y, kind)
    model = NNClassifier(every_layer(), max_iter=15, random_state=0).fit(X, target)
    onx = skl2onnx.to_onnx(model, X[:1], options={"zipmap": False})
    labels, proba = run(onx, X)
    np.testing.assert_array_equal(labels, model.predict(X))
    assert proba.dtype == dtype and proba.shape == (X.shape[0], 3 - (kind == "binary"))
    assert_close(proba, model.predict_proba(X), dtype)


@pytest.fixture(scope="module")
def fitted_classifier(classification):
    X, y = classification
    X = X.astype(np.float32)
    labels = _labels_of(y, "multiclass")
    model = NNClassifier([Dense(8), ReLU(), Dense()], max_iter=20, random_state=0)
    return model.fit(X, labels), X


def test_default_zipmap_gives_one_dict_per_row_keyed_by_label(fitted_classifier):
    model, X = fitted_classifier
    labels, dicts = run(sknnlite_onnx.to_onnx(model, X), X)
    np.testing.assert_array_equal(labels, model.predict(X))
    assert list(dicts[0]) == ["ant", "bee", "cat"]
    proba = np.array([[row[label] for label in model.classes_] for row in dicts])
    assert_close(proba, model.predict_proba(X), np.float32)


def test_zipmap_columns_gives_one_output_per_class(fitted_classifier):
    model, X = fitted_classifier
    onx = sknnlite_onnx.to_onnx(model, X, options={"zipmap": "columns"})
    labels, *columns = run(onx, X)
    assert [output.name for output in onx.graph.output][1:] == ["sant", "sbee", "scat"]
    assert_close(np.column_stack(columns), model.predict_proba(X), np.float32)


def test_nocl_gives_class_indices(fitted_classifier):
    model, X = fitted_classifier
    onx = sknnlite_onnx.to_onnx(model, X, options={"nocl": True, "zipmap": False})
    labels, proba = run(onx, X)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(model.classes_[labels], model.predict(X))


def test_output_class_labels_adds_the_classes(fitted_classifier):
    model, X = fitted_classifier
    options = {"zipmap": False, "output_class_labels": True}
    labels, proba, classes = run(sknnlite_onnx.to_onnx(model, X, options=options), X)
    np.testing.assert_array_equal(classes, model.classes_)


def test_float64_model_with_zipmap_casts_probabilities_for_it(classification):
    # ONNX's ZipMap takes float32 only; MLPClassifier's converter fails here.
    X, y = classification
    model = NNClassifier([Dense(8), ReLU(), Dense()], max_iter=20, random_state=0)
    model.fit(X, y)
    labels, dicts = run(sknnlite_onnx.to_onnx(model, X), X)
    proba = np.array([[row[label] for label in model.classes_] for row in dicts])
    assert_close(proba, model.predict_proba(X), np.float32)


@pytest.mark.parametrize(
    "classes",
    [np.array([3, 7, 10]), np.array([False, True]), np.array([1.0, 2.0, 5.0])],
    ids=["integers", "booleans", "integral-floats"],
)
def test_numeric_labels_come_out_as_int64(classification, classes):
    X, y = classification
    target = classes[y % len(classes)]
    model = NNClassifier([Dense(8), Tanh(), Dense()], max_iter=10, random_state=0)
    model.fit(X, target)
    labels, proba = run(sknnlite_onnx.to_onnx(model, X, options={"zipmap": False}), X)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, model.predict(X).astype(np.int64))


def test_pipeline_with_a_scaler_converts_through_skl2onnx(classification):
    X, y = classification
    X = (X * 10 + 3).astype(np.float32)
    labels = _labels_of(y, "binary")
    pipeline = make_pipeline(
        StandardScaler(), NNClassifier([Dense(8), ReLU(), Dense()], random_state=0)
    )
    pipeline.set_params(nnclassifier__max_iter=20).fit(X, labels)
    onx = skl2onnx.to_onnx(pipeline, X[:1], options={"zipmap": False})
    predicted, proba = run(onx, X)
    np.testing.assert_array_equal(predicted, pipeline.predict(X))
    assert_close(proba, pipeline.predict_proba(X), np.float32)


def test_column_transformer_pipeline_with_a_regressor(regression):
    X, y = regression
    X = X.astype(np.float32)
    columns = ColumnTransformer(
        [("scaled", StandardScaler(), [0, 1, 2]), ("kept", "passthrough", [3, 4, 5])]
    )
    regressor = NNRegressor([Dense(8), Tanh(), Dense()], max_iter=20, random_state=0)
    pipeline = make_pipeline(columns, regressor).fit(X, y[:, 0])
    (output,) = run(skl2onnx.to_onnx(pipeline, X[:1]), X)
    assert_close(output[:, 0], pipeline.predict(X), np.float32)


def test_dataframe_columns_become_inputs_of_their_own_dtype(regression):
    pd = pytest.importorskip("pandas")
    X, y = regression
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["count"] = np.arange(len(frame)) % 7  # an int64 column
    model = NNRegressor([Dense(8), Tanh(), Dense()], max_iter=20, random_state=0)
    model.fit(frame, y)
    onx = sknnlite_onnx.to_onnx(model, frame[:1])
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feed = {name: frame[[name]].to_numpy() for name in frame.columns}
    (output,) = session.run(None, feed)
    assert_close(output, model.predict(frame), np.float64)


def test_float32_model_computes_in_float32_from_float64_input(regression):
    X, y = regression
    model = NNRegressor([Dense(8), Tanh(), Dense()], max_iter=20, random_state=0)
    model.fit(X.astype(np.float32), y)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)  # a float64 input
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, model.predict(X), rtol=1e-5, atol=1e-4)


def test_default_opset_runs_and_an_older_opset_converts_too(regression):
    X, y = regression
    model = NNRegressor([Dense(8), GELU(), Dense()], max_iter=10, random_state=0)
    model.fit(X, y)
    opset = sknnlite_onnx.default_opset()
    assert opset <= skl2onnx.get_latest_tested_opset_version()
    onx = sknnlite_onnx.to_onnx(model, X)
    assert {o.domain: o.version for o in onx.opset_import}[""] == opset
    older = sknnlite_onnx.to_onnx(model, X, target_opset=13)
    for converted in (onx, older):
        (output,) = run(converted, X)
        assert_close(output, model.predict(X), np.float64)


class Scale(Layer):
    """Multiplies its input by ``factor``: a user layer, for the hook tests."""

    def __init__(self, factor=2.0):
        self.factor = factor

    def forward(self, x, training=False):
        return x * self.factor

    def backward(self, grad_out):
        return grad_out * self.factor


class ScaleWithHook(Scale):
    def onnx_forward(self, graph, x):
        return graph.node("Mul", [x, graph.constant(self.factor)])


def test_user_layer_without_hook_names_the_layer_and_the_hook(regression):
    X, y = regression
    model = NNRegressor([Dense(4), Scale(), Dense()], max_iter=2, random_state=0)
    model.fit(X, y)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Scale\).*onnx_forward"):
        sknnlite_onnx.to_onnx(model, X)


@pytest.mark.parametrize("dtype", DTYPES)
def test_user_layer_with_hook_converts(regression, dtype):
    X, y = regression
    X = X.astype(dtype)
    layers = [Dense(4), ScaleWithHook(3.0), Tanh(), Dense()]
    model = NNRegressor(layers, max_iter=5, random_state=0).fit(X, y)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    assert_close(output, model.predict(X), dtype)


class CubedSquaredError(SquaredError):
    """A loss with its own inverse link, for the inverse-link hook tests."""

    def inverse_link(self, raw):
        return raw**3


class CubedSquaredErrorWithHook(CubedSquaredError):
    def onnx_inverse_link(self, graph, x):
        return graph.node("Mul", [graph.node("Mul", [x, x]), x])


def test_loss_with_its_own_inverse_link_needs_the_hook(regression):
    X, y = regression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = NNRegressor(
            [Dense(4), Tanh(), Dense()], loss=CubedSquaredError(), max_iter=3
        ).fit(X, y[:, 0])
        hooked = NNRegressor(
            [Dense(4), Tanh(), Dense()], loss=CubedSquaredErrorWithHook(), max_iter=3
        ).fit(X, y[:, 0])
    with pytest.raises(ValueError, match=r"CubedSquaredError.*onnx_inverse_link"):
        sknnlite_onnx.to_onnx(plain, X)
    (output,) = run(sknnlite_onnx.to_onnx(hooked, X), X)
    assert_close(output[:, 0], hooked.predict(X), np.float64)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_precision_benchmark_runs_and_finds_float_level_errors():
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
    spec = importlib.util.spec_from_file_location(
        "onnx_precision", path / "onnx_precision.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.measure(np.float32, n_samples=80, max_iter=2)
    assert [row[0].split()[0] for row in rows] == ["regressor", "2-class", "4-class"]
    assert all(0 <= error < 1e-5 for row in rows for error in row[1:])


@pytest.mark.parametrize("dtype", DTYPES)
def test_residual_blocks_convert_nested_and_with_a_projection(regression, dtype):
    X, y = regression
    X = X.astype(dtype)
    layers = [
        Dense(8),
        Residual([Dense(12), "relu", Dropout(0.1), Dense()], norm=BatchNorm()),
        Sequential([Residual([Dense(6), "tanh", Dense(5)]), "gelu"]),
        Dense(),
    ]
    model = NNRegressor(layers, max_iter=15, random_state=0).fit(X, y)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    assert_close(output, model.predict(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("two_targets", [False, True])
def test_quantile_regressor_gives_sorted_quantiles_side_by_side(
    regression, dtype, two_targets
):
    X, y = regression
    X = X.astype(dtype)
    y = y if two_targets else y[:, 0]
    model = NNRegressor(
        [Dense(8), Tanh(), Dense()],
        loss=Quantile([0.1, 0.5, 0.9]),
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    expected = model.predict(X).reshape(len(X), -1)
    assert output.shape == expected.shape == (len(X), 6 if two_targets else 3)
    assert_close(output, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_regressor_applies_exp(regression, dtype):
    X, y = regression
    X = X.astype(dtype)
    model = NNRegressor(
        [Dense(8), Tanh(), Dense()], loss="gamma", max_iter=10, random_state=0
    ).fit(X, np.abs(y[:, 0]) + 1)
    (output,) = run(sknnlite_onnx.to_onnx(model, X), X)
    assert_close(output[:, 0], model.predict(X), dtype)
