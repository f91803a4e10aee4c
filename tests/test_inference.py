"""Pure inference: thread safety, training undisturbed by predict, no memory kept."""

import threading
import time
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

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
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Softsign,
    Tanh,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Rows per call: one row up to a few thousand, on both sides of the 2048-row
#: chunk ``predict`` is given and of the smaller blocks it forwards.
SIZES = (1, 3, 1025, 2049, 3000)

#: Every built-in layer other than Dense (which every stack below holds).
LAYERS = [
    ReLU(),
    LeakyReLU(0.1),
    Sigmoid(),
    Tanh(),
    Identity(),
    Softplus(),
    ELU(),
    SELU(),
    GELU(),
    SiLU(),
    Mish(),
    Softsign(),
    Dropout(0.3),
    BatchNorm(),
]


def same_bits(a, b):
    """Bitwise equality of two arrays, dtype and shape included."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def mismatches_under_threads(calls, X, n_threads=8, rounds=1, seed=0):
    """Run every call on every size from ``n_threads`` threads at once.

    Returns the (method, rows) of every result that differs, bit for bit,
    from the same call made first from one thread.
    """
    starts = np.random.default_rng(seed).integers(0, 200, len(SIZES))
    parts = [X[start : start + rows] for start, rows in zip(starts, SIZES, strict=True)]
    tasks = [(name, i) for name in calls for i in range(len(parts))]
    expected = {(name, i): calls[name](parts[i]) for name, i in tasks}
    barrier = threading.Barrier(n_threads)

    def worker(thread):
        order = np.random.default_rng(thread).permutation(len(tasks) * rounds)
        barrier.wait()  # start together so that the calls overlap
        results = []
        for k in order:
            name, i = tasks[k % len(tasks)]
            results.append((name, i, calls[name](parts[i])))
        return results

    with ThreadPoolExecutor(n_threads) as pool:
        results = [r for rs in pool.map(worker, range(n_threads)) for r in rs]
    assert len(results) == n_threads * rounds * len(tasks)
    return sorted(
        {
            (name, SIZES[i])
            for name, i, out in results
            if not same_bits(out, expected[name, i])
        }
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3300, 5))
    y = X[:, 0] - 2 * X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=3300)
    return X, y


def fitted(estimator, X, y, dtype):
    """``estimator`` trained briefly on 300 rows in ``dtype``."""
    return estimator.fit(X[:300].astype(dtype), y[:300])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_regressor_predicts_the_same_from_many_threads(data, layer, dtype):
    X, y = data
    layers = [Dense(16), clone(layer), Dense()]
    model = fitted(NNRegressor(layers, max_iter=2, random_state=0), X, y, dtype)
    calls = {"predict": model.predict}
    assert mismatches_under_threads(calls, X.astype(dtype)) == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_classifier_predicts_the_same_from_many_threads(data, layer, dtype):
    X, y = data
    layers = [Dense(16), clone(layer), Dense()]
    labels = np.digitize(y, [-1.0, 1.0])  # three classes
    model = NNClassifier(layers, max_iter=2, random_state=0)
    model = fitted(model, X, labels, dtype)
    calls = {
        "predict": model.predict,
        "predict_proba": model.predict_proba,
        "decision_function": model.decision_function,
    }
    assert mismatches_under_threads(calls, X.astype(dtype)) == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_regressor_passes_the_same_thread_harness(data, dtype):
    X, y = data
    model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    model = fitted(model, X, y, dtype)
    assert mismatches_under_threads({"predict": model.predict}, X.astype(dtype)) == []


def train_with_partial_fit(X, y, serve_threads):
    """Ten partial_fit epochs while ``serve_threads`` threads call predict."""
    layers = [Dense(32), BatchNorm(), ReLU(), Dropout(0.2), Dense(16), Tanh(), Dense()]
    model = NNRegressor(layers, batch_size=40, random_state=0)
    model.partial_fit(X, y)
    stop = threading.Event()
    served = []

    def serve(thread):
        rng = np.random.default_rng(thread)
        while not stop.is_set():
            rows = int(rng.choice([1, 3, 150, len(X)]))
            served.append(model.predict(X[:rows]).shape == (rows,))

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(serve_threads)]
    for thread in threads:
        thread.start()
    try:
        for call in range(10):
            # Let the servers get a prediction in before each call, however
            # loaded the machine: at least 10 predictions interleave.
            deadline = time.monotonic() + 30
            while serve_threads and len(served) <= call and time.monotonic() < deadline:
                time.sleep(0.001)
            model.partial_fit(X, y)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return model, served


def test_training_while_serving_learns_what_it_learns_alone():
    X, y = make_friedman1(n_samples=400, random_state=0)
    alone, _ = train_with_partial_fit(X, y, serve_threads=0)
    served, answers = train_with_partial_fit(X, y, serve_threads=3)
    assert len(answers) > 10 and all(answers)  # predict really ran meanwhile
    assert same_bits(served.network_.coef, alone.network_.coef)
    for layer, reference in zip(served.layers_, alone.layers_, strict=True):
        for name, value in layer.get_state().items():
            assert same_bits(value, reference.get_state()[name]), name
    assert same_bits(served.optimizer_.m_, alone.optimizer_.m_)
    assert served.loss_curve_ == alone.loss_curve_


def traced_predict(model, X):
    """``(kept, peak)``: bytes still allocated after predict and its peak, beyond
    the returned predictions."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y_pred = model.predict(X)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - base - y_pred.nbytes, peak - base - y_pred.nbytes


def layer_contents(model):
    """Names, identities and shapes of every attribute of every layer."""
    return [
        {k: (id(v), getattr(v, "shape", None)) for k, v in vars(layer).items()}
        for layer in model.layers_
    ]


def test_predict_keeps_no_memory_and_leaves_the_layers_as_they_were():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5))
    layers = [Dense(20_000), ReLU(), BatchNorm(), Dense()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = NNRegressor(layers, max_iter=1, random_state=0).fit(X, X[:, 0])
    before = layer_contents(model)
    kept, peak = traced_predict(model, rng.normal(size=(500, 5)))
    assert layer_contents(model) == before
    assert kept < 2**16  # bookkeeping at most; one activation row is 160 kB
    # One block of 64 rows per layer output (about 10 MB each here), not 500.
    assert peak < 5 * 64 * 20_000 * 8


def test_predict_memory_does_not_grow_with_the_number_of_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 5))
    model = NNRegressor([Dense(64), ReLU(), Dense(64), ReLU(), Dense()], max_iter=1)
    model.fit(X, X[:, 0])
    model.predict(X)  # first call: imports and caches of NumPy and scikit-learn
    small_kept, small_peak = traced_predict(model, rng.normal(size=(5_000, 5)))
    large_kept, large_peak = traced_predict(model, rng.normal(size=(50_000, 5)))
    assert small_kept < 2**14 and large_kept < 2**14
    assert large_peak < small_peak + 2**16


class _Gate(Layer):
    """The identity; from its second training forward of a call on, it pauses.

    It tells the test it is mid-call (after one update step of the call) and
    waits until the test lets it go, so another thread can predict right
    between two steps.
    """

    mid_call = threading.Event()
    go_on = threading.Event()

    def build(self, n_inputs, rng, dtype):
        self.forwards_ = 0
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self.forwards_ += 1
            if self.forwards_ == 4:  # the 2nd batch of the second call
                type(self).mid_call.set()
                type(self).go_on.wait(timeout=10)
        return x

    def backward(self, grad_out):
        return grad_out


def test_a_prediction_during_partial_fit_sees_the_model_before_or_after_the_call():
    # A predict between two update steps saw weights no whole call produced
    # (a trial found 45 of 247 such predictions with a 512-wide network).
    X, y = make_friedman1(n_samples=80, random_state=0)
    model = NNRegressor(
        [Dense(16), _Gate(), ReLU(), Dense()], batch_size=40, random_state=0
    )
    _Gate.mid_call.clear()
    _Gate.go_on.clear()
    model.partial_fit(X, y)  # two batches: the gate's forwards 1 and 2
    before = model.predict(X)
    trainer = threading.Thread(target=model.partial_fit, args=(X, y))
    trainer.start()
    assert _Gate.mid_call.wait(timeout=10)
    with ThreadPoolExecutor(1) as pool:
        during = pool.submit(model.predict, X)
        try:
            early = during.result(timeout=0.5)  # only without the lock
        except TimeoutError:
            early = None
        _Gate.go_on.set()
        seen = during.result(timeout=10)
    trainer.join(timeout=10)
    after = model.predict(X)
    assert early is None  # it waited for the training call
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(seen, after)
