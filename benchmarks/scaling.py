"""What scaling out costs: a Dask cluster's overhead, out-of-core training's.

Run with ``python benchmarks/scaling.py`` (needs the ``dask`` extra). Prints
the numbers quoted in the README section "Scaling out". Wall-clock numbers
depend on the machine; the memory numbers do not.
"""

import pathlib
import tempfile
import time
import tracemalloc
import warnings

import joblib
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sknnlite import Dense, NNRegressor, ReLU
from sknnlite.streaming import fit_chunks

N_FEATURES = 20


def _timed(function):
    """Seconds ``function()`` takes, and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _search(n_jobs):
    X, y = make_friedman1(n_samples=5000, random_state=0)
    search = GridSearchCV(
        NNRegressor([Dense(32), ReLU(), Dense()], max_iter=100, tol=0, random_state=0),
        {
            "layers__0__units": [16, 64],
            "alpha": [1e-4, 1e-2],
            "learning_rate": [1e-3, 1e-2],
        },
        cv=3,
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


def bench_cluster():
    """Start-up and close of a 2-process LocalCluster; a 24-fit search on it."""
    from distributed import Client, LocalCluster

    local, _ = _timed(lambda: _search(n_jobs=1))
    loky, _ = _timed(lambda: _search(n_jobs=2))
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        started = time.perf_counter() - start
        with joblib.parallel_backend("dask"):
            first, _ = _timed(lambda: _search(n_jobs=-1))
            second, _ = _timed(lambda: _search(n_jobs=-1))
        closing = time.perf_counter()
    closed = time.perf_counter() - closing
    print(f"cluster start {started:.2f} s, close {closed:.2f} s")
    print(
        f"24-fit search: local n_jobs=1 {local:.2f} s, joblib n_jobs=2 {loky:.2f} s, "
        f"dask 2 workers {first:.2f} s (first), {second:.2f} s (second)"
    )


def _on_disk(folder, X, y):
    """Write X and y as .npy files; return them opened as read-only memmaps."""
    for name, array in (("X", X), ("y", y)):
        np.save(folder / f"{name}.npy", array)
    return (np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("X", "y"))


def _peak(function):
    """tracemalloc peak, in MB, while ``function()`` runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def bench_out_of_core(n_rows=80_000, n_epochs=4):
    """Time and peak memory of chunked training against in-memory ``fit``."""
    import dask.array as da

    X, y = make_friedman1(n_samples=n_rows, n_features=N_FEATURES, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32)

    def model():
        return NNRegressor(
            [Dense(32), ReLU(), Dense()], max_iter=n_epochs, tol=0, random_state=0
        )

    fit_time, _ = _timed(lambda: model().fit(X, y))
    print(
        f"{n_rows} rows x {N_FEATURES} float32 ({(X.nbytes + y.nbytes) / 1e6:.1f} MB)"
        f", {n_epochs} epochs; in-memory fit {fit_time:.2f} s, "
        f"peak {_peak(lambda: model().fit(X, y)):.2f} MB beyond the data"
    )
    with tempfile.TemporaryDirectory() as folder:
        X_map, y_map = _on_disk(pathlib.Path(folder), X, y)
        for chunk_rows in (1000, 5000, 20_000):
            train = _chunked(model, X_map, y_map, chunk_rows, n_epochs)
            seconds, _ = _timed(train)
            n_calls = n_epochs * -(-n_rows // chunk_rows)
            print(
                f"  memmap, chunk_rows={chunk_rows}: {seconds:.2f} s "
                f"({(seconds - fit_time) / n_calls * 1e3:+.1f} ms per chunk "
                f"against fit), peak {_peak(train):.2f} MB"
            )
        X_dask = da.from_array(X_map, chunks=(5000, -1))
        y_dask = da.from_array(y_map, chunks=5000)
        train = _chunked(model, X_dask, y_dask, None, n_epochs)
        seconds, _ = _timed(train)
        print(
            f"  dask array, 5000-row chunks: {seconds:.2f} s, "
            f"peak {_peak(train):.2f} MB"
        )


def _chunked(model, X, y, chunk_rows, n_epochs):
    """A function training a fresh ``model()`` with ``fit_chunks``."""
    return lambda: fit_chunks(model(), X, y, chunk_rows, n_epochs, random_state=0)


if __name__ == "__main__":  # worker processes re-import this module
    warnings.simplefilter("ignore", ConvergenceWarning)
    bench_out_of_core()
    bench_cluster()
