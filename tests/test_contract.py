"""The layer contract, checked: errors that name the layer, and check_layer."""

import re
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sknnlite import (
    Dense,
    DivergenceWarning,
    Layer,
    LeakyReLU,
    NNClassifier,
    NNRegressor,
    ReLU,
    Tanh,
)
from sknnlite.layers import build_layer
from sknnlite.network import Network
from sknnlite.testing import (
    check_estimator_gradients,
    check_layer,
    check_layer_gradients,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X = np.random.default_rng(0).normal(size=(50, 3))
Y = X[:, 0] - X[:, 1]


class Scale(Layer):
    """``a * x`` with a learned ``a`` per feature (starting at 1)."""

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


class ScaleForgetsA(Scale):
    """Scale whose input gradient forgets the factor ``a``."""

    def backward(self, grad_out):
        super().backward(grad_out)
        return grad_out


def fit_with(layer):
    """Fit a small regressor with ``layer`` as layers[1]."""
    return NNRegressor([Dense(4), layer, Dense()], max_iter=1).fit(X, Y)


# --------------------------------- layers that break the contract, one way each
class FirstRowOnly(Scale):
    def forward(self, x, training=False):
        return super().forward(x, training)[:1]


class Widens(Scale):
    def forward(self, x, training=False):
        out = super().forward(x, training)
        return np.hstack([out, out[:, :1]])


class ReturnsNothing(Scale):
    def forward(self, x, training=False):
        super().forward(x, training)


class InFloat64(Scale):
    def forward(self, x, training=False):
        return super().forward(x, training).astype(np.float64)


class NoBackward(Layer):
    def forward(self, x, training=False):
        return x


class NoForward(Layer):
    def backward(self, grad_out):
        return grad_out


class WrongInputGradient(Scale):
    def backward(self, grad_out):
        return super().backward(grad_out)[:, :2]


class NoWidth(Scale):
    def build(self, n_inputs, rng, dtype):
        super().build(n_inputs, rng, dtype)


class Returns(Scale):
    """Its build returns ``width``, whatever that is."""

    def __init__(self, width=None):
        self.width = width

    def build(self, n_inputs, rng, dtype):
        return self.width


class BreaksLater(Scale):
    """Returns one row too few from its third training batch on."""

    def forward(self, x, training=False):
        self.calls_ = getattr(self, "calls_", 0) + training
        out = super().forward(x, training)
        return out[1:] if self.calls_ > 2 else out


class DropsRowsAtInference(Scale):
    """Breaks at inference once ``broken`` is set (after fit, which predicts too)."""

    broken = False

    def forward(self, x, training=False):
        out = super().forward(x, training)
        return out if training or not self.broken else out[:1]


class CachesAlways(Scale):
    def forward(self, x, training=False):
        self._x = x
        self.n_calls = getattr(self, "n_calls", 0) + 1
        return x * self.params["a"]


class KeepsBuffer(Scale):
    def forward(self, x, training=False):
        if training:
            self._x = x
        out = self.scratch("_out", x.shape, x.dtype)
        return np.multiply(x, self.params["a"], out=out)


#: Where SharesAcrossCalls keeps its output, out of check_layer's sight.
SHARED, SHARED_LOCK = {}, threading.Lock()


class SharesAcrossCalls(Scale):
    def forward(self, x, training=False):
        if training:
            return super().forward(x, training)
        with SHARED_LOCK:
            SHARED["out"] = x * self.params["a"]
        time.sleep(0.001)  # another thread now replaces SHARED["out"]
        return SHARED["out"].copy()


class HoldsOldArrays(Scale):
    """Keeps references to params and grads from before the network packed them."""

    def build(self, n_inputs, rng, dtype):
        width = super().build(n_inputs, rng, dtype)
        self._a, self._grad_a = self.params["a"], self.grads["a"]
        return width

    def forward(self, x, training=False):
        if training:
            self._x = x
        return x * self._a

    def backward(self, grad_out):
        self._grad_a[...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self._a


class HoldsOldGradient(Scale):
    def build(self, n_inputs, rng, dtype):
        width = super().build(n_inputs, rng, dtype)
        self._grad_a = self.grads["a"]
        return width

    def backward(self, grad_out):
        self._grad_a[...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.params["a"]


class ReplacesGrads(Scale):
    def backward(self, grad_out):
        self.grads["a"] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.params["a"]


class PrivateScale(Scale):
    """Needs ``_factor``, which pickling drops."""

    def build(self, n_inputs, rng, dtype):
        self._factor = 2.0
        return super().build(n_inputs, rng, dtype)

    def forward(self, x, training=False):
        return super().forward(x, training) * getattr(self, "_factor", 1.0)

    def backward(self, grad_out):
        return super().backward(grad_out * self._factor)


class OverwritesTooEarly(LeakyReLU):
    """Claims it may write over its input, but reads the input afterwards."""

    in_place = True


class Doubles(Scale):
    def __init__(self, factor=1.5):
        self.factor = 2 * factor


# ------------------------------------------------- errors naming the layer
@pytest.mark.parametrize(
    "layer, error, message",
    [
        (
            FirstRowOnly(),
            ValueError,
            "layers[1] (FirstRowOnly).forward returned shape (1, 4) for an input "
            "of 50 rows; expected (50, 4): one row per input row, of the width "
            "its build returned (4).",
        ),
        (
            Widens(),
            ValueError,
            "layers[1] (Widens).forward returned shape (50, 5) for an input of 50 "
            "rows; expected (50, 4)",
        ),
        (
            ReturnsNothing(),
            TypeError,
            "layers[1] (ReturnsNothing).forward returned NoneType; expected an "
            "array of shape (50, 4).",
        ),
        (
            WrongInputGradient(),
            ValueError,
            "layers[1] (WrongInputGradient).backward returned shape (50, 2); "
            "expected the gradient with respect to its input, of shape (50, 4).",
        ),
        (
            NoBackward(),
            NotImplementedError,
            "layers[1] (NoBackward) does not implement backward. Write "
            "backward(self, grad_out): write each parameter's gradient in place",
        ),
        (
            NoForward(),
            NotImplementedError,
            "layers[1] (NoForward) does not implement forward. Write "
            "forward(self, x, training=False): return the output",
        ),
        (
            NoWidth(),
            TypeError,
            "layers[1] (NoWidth).build returned None; build must return the "
            "output width, a positive int",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Layer) else "",
)
def test_fit_names_the_layer_that_breaks_the_contract(layer, error, message):
    with pytest.raises(error, match=re.escape(message)):
        fit_with(layer)


def test_a_float64_output_in_a_float32_network_is_named():
    message = (
        "layers[1] (InFloat64).forward returned float64 values; expected "
        "float32, the dtype of the network"
    )
    with pytest.raises(TypeError, match=re.escape(message)):
        NNRegressor([Dense(4), InFloat64(), Dense()], max_iter=1).fit(
            X.astype(np.float32), Y
        )


def test_every_partial_fit_call_checks_its_first_batch():
    model = NNClassifier([Dense(4), BreaksLater(), Dense()], batch_size=50)
    model.partial_fit(X, Y > 0, classes=[False, True])
    model.partial_fit(X, Y > 0)
    with pytest.raises(ValueError, match=re.escape("layers[1] (BreaksLater)")):
        model.partial_fit(X, Y > 0)


def test_predict_names_a_layer_that_changes_the_rows_at_inference():
    model = fit_with(DropsRowsAtInference())
    model.layers_[1].broken = True
    message = (
        "layers[1] (DropsRowsAtInference).forward returned shape (1, 4) for an "
        "input of 50 rows; expected (50, 4)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        model.predict(X)


def test_base_layer_methods_say_what_to_write():
    layer = NoBackward()
    with pytest.raises(
        NotImplementedError,
        match=re.escape("NoBackward must implement backward(self, grad_out)"),
    ):
        layer.backward(np.ones((2, 3)))
    with pytest.raises(
        NotImplementedError,
        match=re.escape("NoForward must implement forward(self, x, training=False)"),
    ):
        NoForward().forward(np.ones((2, 3)))


@pytest.mark.parametrize("width", [None, 0, 2.0, True])
def test_build_layer_refuses_a_width_that_is_not_a_positive_int(width):
    message = f"Returns.build returned {width!r}; build must return the output width"
    with pytest.raises(TypeError, match=re.escape(message)):
        build_layer(Returns(width), 3, np.random.default_rng(0), np.float64)


def test_the_contract_check_runs_on_the_first_batch_of_a_fit_only(monkeypatch):
    calls = []
    original = Network._forward_checked

    def spy(self, x, sample_weight):
        calls.append(x.shape[0])
        return original(self, x, sample_weight)

    monkeypatch.setattr(Network, "_forward_checked", spy)
    NNRegressor([Dense(4), ReLU(), Dense()], batch_size=10, max_iter=3).fit(X, Y)
    assert calls == [10]  # 15 batches in all


# ------------------------------------------------------- gradient checkers
def test_gradient_check_at_random_values_catches_a_missing_factor():
    # At a = 1, the build value, the missing factor goes unnoticed...
    at_build_values = check_layer_gradients(ScaleForgetsA(), params={"a": np.ones(4)})
    assert at_build_values.ok
    # ...at the random values checked by default it does not.
    report = check_layer_gradients(ScaleForgetsA())
    assert not report.ok
    assert report.worst[0] == "input"
    assert check_layer_gradients(Scale()).ok


def test_estimator_gradient_check_of_an_unfitted_model_uses_random_values():
    def report(scale_layer):
        model = NNRegressor([Dense(4), scale_layer, Tanh(), Dense()])
        return check_estimator_gradients(model, X[:8], Y[:8])

    wrong = report(ScaleForgetsA())  # its input gradient reaches layers[0] only
    assert not wrong.ok
    assert wrong.worst[0].startswith("layers[0].params")
    assert report(Scale()).ok


def test_gradient_check_uses_given_parameter_values():
    layer = Scale()
    check_layer_gradients(layer, params={"a": [2.0, -3.0, 0.5, 4.0]})
    np.testing.assert_array_equal(layer.params["a"], [2.0, -3.0, 0.5, 4.0])
    with pytest.raises(KeyError, match=re.escape("params names ['b']")):
        check_layer_gradients(Scale(), params={"b": np.ones(4)})


# ------------------------------------------------------------- check_layer
def test_check_layer_passes_a_correct_custom_layer():
    check_layer(Scale())


def failures(layer, **kwargs):
    """The AssertionError message check_layer raises for ``layer``."""
    with pytest.raises(AssertionError) as info:
        check_layer(layer, **kwargs)
    return str(info.value)


def test_check_layer_reports_a_missing_factor_in_the_input_gradient():
    message = failures(ScaleForgetsA())
    assert "gradients (alone) differ from finite differences" in message
    assert "input:" in message


def test_check_layer_reports_what_an_impure_inference_wrote():
    message = failures(CachesAlways())
    assert "forward(x, training=False) wrote on the layer: " in message
    assert "replaced self._x by another object" in message
    assert "changed self.n_calls from" in message


def test_check_layer_reports_a_buffer_kept_on_the_layer():
    message = failures(KeepsBuffer())
    assert "wrote on the layer: wrote into the array self._out." in message
    assert "a second forward(x, training=False) overwrote the array" in message


def test_check_layer_reports_results_that_differ_between_threads():
    message = failures(SharesAcrossCalls())
    assert "called from 8 threads at once gave" in message
    assert "results that differ from one thread's" in message


def test_check_layer_reports_arrays_held_from_before_the_network_packed_them():
    message = failures(HoldsOldArrays())
    assert "inside a network the layer predicts with other values" in message


def test_check_layer_reports_gradients_written_into_arrays_from_before_packing():
    message = failures(HoldsOldGradient())
    assert "gradients (as views into the network's parameter vector)" in message
    assert "layers[0].params['a']" in message


def test_check_layer_reports_replaced_gradient_arrays():
    message = failures(ReplacesGrads())
    assert "layers[0] (ReplacesGrads) replaced grads['a']" in message


def test_check_layer_reports_state_lost_in_pickling():
    message = failures(PrivateScale())
    assert "the unpickled layer predicts differently" in message


def test_check_layer_reports_a_wrong_claim_to_work_in_place():
    message = failures(OverwritesTooEarly())
    assert "when the workspace lets it overwrite x (input_is_scratch)" in message


def test_check_layer_reports_an_init_that_does_more_than_store():
    message = failures(Doubles())
    assert "clone or repr failed" in message
    assert "__init__ must store each argument unchanged" in message


def test_check_layer_leaves_the_given_layer_unbuilt():
    layer = Dense(3)
    check_layer(layer)
    assert "params" not in vars(layer)
    assert repr(clone(layer)) == "Dense(3)"


class _InferenceBreaks(Layer):
    """Right while training; at inference, broken as ``how`` says."""

    def __init__(self, how="width"):
        self.how = how

    def build(self, n_inputs, rng, dtype):
        return n_inputs

    def forward(self, x, training=False):
        if training:
            return x
        if self.how == "width":
            return x[:, :2]
        if self.how == "rows":
            return x[:1]
        if self.how == "nan":
            return x * np.nan
        return x.astype(np.float32)

    def backward(self, grad_out):
        return grad_out


@pytest.mark.parametrize(
    "how, message",
    [
        ("width", r"layers\[0\] \(_InferenceBreaks\)\.forward returned shape \(6, 2\)"),
        ("rows", r"layers\[0\] \(_InferenceBreaks\)\.forward returned shape \(1, 4\)"),
        ("dtype", r"layers\[0\] \(_InferenceBreaks\)\.forward returned float32"),
        (
            "nan",
            r"layers\[0\] \(_InferenceBreaks\)\.forward\(x, training=False\) "
            r"returned NaN or inf for finite input rows",
        ),
    ],
)
def test_check_layer_checks_the_inference_output_too(how, message):
    # All three passed check_layer: only the training output was checked.
    with pytest.raises(AssertionError, match=message):
        check_layer(_InferenceBreaks(how))


def test_a_wrong_inference_width_inside_a_network_names_the_layer():
    # The next Dense failed inside NumPy: "matmul: Input operand 1 has a
    # mismatch in its core dimension 0", naming no layer.
    X, y = np.random.default_rng(0).normal(size=(30, 4)), np.arange(30.0)
    model = NNRegressor(
        [Dense(5), _InferenceBreaks(), Dense(3), ReLU(), Dense()],
        max_iter=2,
        random_state=0,
    )
    with pytest.raises(ValueError, match=r"layers\[1\] \(_InferenceBreaks\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)


NAN_AT_INFERENCE = (
    r"layers\[1\] \(_InferenceBreaks\)\.forward\(x, training=False\) returned NaN "
    r"or inf for finite input rows, while training gives finite values"
)


@pytest.mark.parametrize(
    "method, optimizer",
    [("fit", "adam"), ("fit", "lbfgs"), ("partial_fit", "sgd")],
)
def test_a_layer_returning_nan_only_at_inference_fails_the_fit(method, optimizer):
    # It trained on finite values, then every prediction was NaN, with only a
    # ConvergenceWarning blaming the learning rate.
    layers = [Dense(4), _InferenceBreaks("nan"), Dense()]
    model = NNRegressor(layers, optimizer=optimizer, max_iter=2)
    with pytest.raises(ValueError, match=NAN_AT_INFERENCE):
        getattr(model, method)(X, Y)
    assert not hasattr(model, "layers_")  # nothing half-fitted is left


class _BreaksAfterTraining(Layer):
    """The identity, until training has run three steps; then NaN at inference."""

    def build(self, n_inputs, rng, dtype):
        self.steps_ = 0
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self.steps_ += 1
            return x
        return x * np.nan if self.steps_ > 3 else x

    def backward(self, grad_out):
        return grad_out


def test_inference_broken_by_training_fails_the_fit_at_its_end():
    # The first batch's check sees the initial state only; the end of fit
    # checks the kept network's predictions on training rows.
    model = NNRegressor(
        [Dense(4), _BreaksAfterTraining(), Dense()], batch_size=10, max_iter=3
    )
    message = NAN_AT_INFERENCE.replace("_InferenceBreaks", "_BreaksAfterTraining")
    with pytest.raises(ValueError, match=message):
        model.fit(X, Y)
    assert not hasattr(model, "layers_")


class _InfEverywhere(Scale):
    def forward(self, x, training=False):
        return super().forward(x, training) * np.inf


def test_a_layer_non_finite_from_the_first_batch_is_named_not_the_learning_rate():
    # It said "The learning rate is too large", though no update had been made.
    with pytest.raises(ValueError) as error:
        fit_with(_InfEverywhere())
    message = str(error.value)
    assert "before any update, so the learning rate is not the cause" in message
    assert "layers[1] (_InfEverywhere).forward returned NaN or inf" in message
    assert "learning rate is too large" not in message


def test_huge_features_from_the_first_batch_point_to_scaling():
    huge = X * 1e305  # finite, but the first Dense overflows
    with pytest.raises(ValueError) as error:
        NNRegressor([Dense(4), ReLU(), Dense()], max_iter=1).fit(huge, Y)
    message = str(error.value)
    assert "before any update, so the learning rate is not the cause" in message
    assert "scale the features" in message


class _InfAfterFit(Scale):
    """Finite until ``poisoned`` is set (as a later data regime might do)."""

    poisoned = False

    def forward(self, x, training=False):
        out = super().forward(x, training)
        return out * np.inf if type(self).poisoned else out


def test_a_later_call_whose_first_batch_is_not_finite_does_not_blame_the_rate(
    monkeypatch,
):
    model = NNRegressor([Dense(4), _InfAfterFit(), Dense()], max_iter=2)
    model.partial_fit(X, Y)
    before = model.predict(X)
    monkeypatch.setattr(_InfAfterFit, "poisoned", True)
    with pytest.warns(DivergenceWarning) as record:
        model.partial_fit(X, Y)
    message = str(record[0].message)
    assert "before any update, so the learning rate is not the cause" in message
    assert "layers[1] (_InfAfterFit).forward returned NaN or inf" in message
    monkeypatch.setattr(_InfAfterFit, "poisoned", False)
    np.testing.assert_array_equal(model.predict(X), before)  # the call was undone


class _NaNForSomeRows(Layer):
    """Finite in training; at inference, NaN for rows whose first input is > 1."""

    def build(self, n_inputs, rng, dtype):
        return n_inputs

    def forward(self, x, training=False):
        if training:
            return x
        out = x.copy()
        out[x[:, 0] > 1.0] = np.nan
        return out

    def backward(self, grad_out):
        return grad_out


def test_predict_names_a_layer_returning_nan_for_some_rows():
    # The fit's probes saw other rows; predict returned NaN for the
    # regressor and class 0 (the argmax of NaN) for the classifier.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    X[:10, 0] = np.clip(X[:10, 0], -0.9, 0.9)  # training rows the probes see
    message = (
        r"layers\[0\] \(_NaNForSomeRows\) returned NaN or inf at inference for "
        rf"{int((X[:, 0] > 1).sum())} of 80 rows of finite input"
    )
    regressor = NNRegressor([_NaNForSomeRows(), Dense(3), Dense()], random_state=0)
    regressor.partial_fit(X[:10], X[:10, 1])
    with pytest.raises(ValueError, match=message):
        regressor.predict(X)
    classifier = NNClassifier(
        [_NaNForSomeRows(), Dense(3), Dense()], max_iter=2, random_state=0
    )
    classifier.fit(X[:10], np.arange(10) % 2)
    with pytest.raises(ValueError, match=message):
        classifier.predict(X)
    np.testing.assert_array_equal(
        classifier.predict(X[:10]), classifier.predict(X[:10])
    )


class _InfInTrainingOnly(Scale):
    def forward(self, x, training=False):
        out = super().forward(x, training)
        return out * np.inf if training else out


def test_a_layer_infinite_only_in_training_is_named_on_the_first_batch():
    # The inference probe saw finite values, so no layer was named.
    with pytest.raises(ValueError) as error:
        fit_with(_InfInTrainingOnly())
    assert "layers[1] (_InfInTrainingOnly).forward returned NaN or inf" in str(
        error.value
    )
