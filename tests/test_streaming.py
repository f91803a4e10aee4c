"""Out-of-core training through partial_fit: chunk order, memory, quality."""

import subprocess
import sys
import tracemalloc

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_friedman1

from sknnlite import Dense, NNRegressor, ReLU
from sknnlite.streaming import fit_chunks, iter_chunks

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_TEST = 5000
CHUNK_ROWS = 5000
EPOCHS = 4


class Recorder:
    """Records what each partial_fit call receives; the rows are ids in column 0."""

    def __init__(self):
        self.calls = []

    def partial_fit(self, X, y, sample_weight=None, **params):
        self.calls.append((np.asarray(X)[:, 0].astype(int), sample_weight, params))
        return self


def _id_data(n_rows):
    X = np.repeat(np.arange(n_rows, dtype=float)[:, None], 2, axis=1)
    return X, X[:, 0] * 10


def _model():
    return NNRegressor(
        [Dense(32), ReLU(), Dense()],
        learning_rate=0.003,
        max_iter=EPOCHS,
        tol=0,
        random_state=0,
    )


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(
        n_samples=80_000 + N_TEST, n_features=20, noise=0.5, random_state=0
    )
    return X.astype(np.float32), y.astype(np.float32)


def _on_disk(folder, X, y):
    """Write X and y as .npy files and open them read-only as memmaps."""
    arrays = []
    for name, array in (("X", X), ("y", y)):
        path = folder / f"{name}.npy"
        out = np.lib.format.open_memmap(path, "w+", array.dtype, array.shape)
        out[:] = array
        out.flush()
        del out
        arrays.append(np.load(path, mmap_mode="r"))
    return arrays


def test_importing_sknnlite_imports_no_dask():
    code = (
        "import sys, sknnlite, sknnlite.streaming; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'dask', 'distributed', 'dask_ml'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_every_row_once_per_epoch_with_chunk_order_reshuffled():
    X, y = _id_data(10)
    global_state = np.random.get_state()[1].copy()  # noqa: NPY002 - the subject
    recorder = fit_chunks(Recorder(), X, y, chunk_rows=3, n_epochs=6, random_state=0)
    assert np.array_equal(np.random.get_state()[1], global_state)  # noqa: NPY002
    epochs = [recorder.calls[i : i + 4] for i in range(0, 24, 4)]
    orders = {tuple(int(ids[0]) for ids, _, _ in epoch) for epoch in epochs}
    for epoch in epochs:
        ids = np.concatenate([ids for ids, _, _ in epoch])
        assert np.array_equal(np.sort(ids), np.arange(10))
        assert sorted(len(ids) for ids, _, _ in epoch) == [1, 3, 3, 3]
    assert len(orders) > 1  # the chunk order changes between epochs
    again = fit_chunks(Recorder(), X, y, chunk_rows=3, n_epochs=6, random_state=0)
    assert all(
        np.array_equal(a[0], b[0])
        for a, b in zip(recorder.calls, again.calls, strict=True)
    )


def test_weights_and_extra_params_follow_the_rows():
    X, y = _id_data(7)
    weights = np.arange(7) * 2.0
    recorder = fit_chunks(
        Recorder(), X, y, chunk_rows=2, sample_weight=weights, classes=[0, 1]
    )
    assert len(recorder.calls) == 4
    for ids, weight, params in recorder.calls:
        assert np.array_equal(weight, ids * 2.0)
        assert params == {"classes": [0, 1]}


def test_dask_row_chunks_are_the_default_chunks():
    X, y = _id_data(10)
    chunks = [ids for ids, _, _ in iter_chunks(da.from_array(X, chunks=(4, 1)), y)]
    assert sorted(len(ids) for ids in chunks) == [2, 4, 4]
    assert all(isinstance(ids, np.ndarray) for ids in chunks)


def test_dataframe_chunks_keep_column_names():
    X, y = _id_data(20)
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = fit_chunks(NNRegressor([Dense(2), ReLU(), Dense()]), frame, y, 8)
    assert list(model.feature_names_in_) == ["a", "b"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"chunk_rows": None}, "chunk_rows=None takes the chunks of a Dask array"),
        ({"y": np.zeros(9)}, "y has 9 rows but X has 10"),
        ({"sample_weight": np.ones(3)}, "sample_weight has 3 rows but X has 10"),
        ({"n_epochs": 0}, "'n_epochs' parameter of fit_chunks"),
        ({"chunk_rows": 0}, "'chunk_rows' parameter of fit_chunks"),
        ({"estimator": object()}, "'estimator' parameter of fit_chunks"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    X, y = _id_data(10)
    arguments = dict(estimator=Recorder(), X=X, y=y, chunk_rows=3) | kwargs
    with pytest.raises(ValueError, match=message):
        fit_chunks(**arguments)


def test_iter_chunks_checks_its_arguments_at_the_call():
    X, y = _id_data(10)
    with pytest.raises(ValueError, match="chunk_rows=None takes the chunks"):
        iter_chunks(X, y)


def test_counters_are_those_of_partial_fit():
    X, y = make_friedman1(n_samples=250, random_state=0)
    model = fit_chunks(_model(), X, y, chunk_rows=100, n_epochs=2, random_state=0)
    assert model.n_iter_ == 2 * 3  # three chunks (100, 100, 50) per epoch
    assert model.t_ == 2 * 250
    assert len(model.loss_curve_) == 6


def test_memory_is_bounded_by_the_chunk_not_the_data(friedman, tmp_path):
    X_all, y_all = friedman
    peaks, data_bytes = [], []
    for n_rows in (20_000, 80_000):
        folder = tmp_path / str(n_rows)
        folder.mkdir()
        X, y = _on_disk(folder, X_all[:n_rows], y_all[:n_rows])
        tracemalloc.start()
        try:
            fit_chunks(_model(), X, y, CHUNK_ROWS, n_epochs=2, random_state=0)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        data_bytes.append(X.nbytes + y.nbytes)
    assert peaks[1] < 1.3 * peaks[0]
    assert peaks[1] < data_bytes[1] / 4  # 6.7 MB of data; about 0.3 MB measured


def test_chunked_training_matches_in_memory_fit(friedman, tmp_path):
    X_all, y_all = friedman
    X_test, y_test = X_all[-N_TEST:], y_all[-N_TEST:]
    X, y = _on_disk(tmp_path, X_all[:20_000], y_all[:20_000])
    in_memory = _model().fit(np.array(X), np.array(y)).score(X_test, y_test)
    chunked = fit_chunks(_model(), X, y, CHUNK_ROWS, EPOCHS, random_state=0)
    assert in_memory > 0.7
    assert abs(chunked.score(X_test, y_test) - in_memory) < 0.02


def test_training_from_a_dask_array_chunk_by_chunk(friedman, tmp_path):
    X_all, y_all = friedman
    X, y = _on_disk(tmp_path, X_all[:20_000], y_all[:20_000])
    chunked = fit_chunks(_model(), X, y, CHUNK_ROWS, EPOCHS, random_state=0)
    X_dask = da.from_array(X, chunks=(CHUNK_ROWS, -1))
    y_dask = da.from_array(y, chunks=CHUNK_ROWS)
    from_dask = fit_chunks(_model(), X_dask, y_dask, None, EPOCHS, random_state=0)
    # Same chunks, same seeds: exactly the model trained from the memmap.
    assert np.array_equal(from_dask.network_.coef, chunked.network_.coef)
    X_test, y_test = X_all[-N_TEST:], y_all[-N_TEST:]
    assert from_dask.score(X_test, y_test) > 0.7
