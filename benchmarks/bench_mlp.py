"""Training and prediction speed of NNRegressor next to scikit-learn's MLPRegressor.

Both estimators train the same 64-64 ReLU network (Adam, learning rate 1e-3,
batch 200, alpha 1e-4) for a fixed number of epochs (``tol=0`` and a huge
``n_iter_no_change``) in one process, taking turns (A B A B ...) for several
rounds so that load from other processes hits both alike. BLAS is pinned to
one thread: a second thread gives no speed-up at these sizes but makes
timings spiky.

Run from the repository root::

    python benchmarks/bench_mlp.py          # full run, several minutes
    python benchmarks/bench_mlp.py --quick  # about a minute

On machines where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are forced, unset both
in the benchmark command alone to measure a current NumPy at full speed::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_mlp.py
"""

import argparse
import statistics
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.datasets import make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_info, threadpool_limits

from sknnlite import Dense, NNRegressor, ReLU

HIDDEN = 64
BATCH = 200
NEVER = 10**9  # n_iter_no_change that never triggers


def make_data(name, n_train, seed=0):
    """Standardised train/test split of one benchmark dataset (float64)."""
    n_test = max(n_train // 4, 10)
    n = n_train + n_test
    if name == "friedman1":
        X, y = make_friedman1(n_samples=n, noise=1.0, random_state=seed)
    else:
        X, y = make_regression(
            n_samples=n, n_features=50, n_informative=30, noise=10.0, random_state=seed
        )
    X = (X - X[:n_train].mean(0)) / X[:n_train].std(0)
    y = (y - y[:n_train].mean()) / y[:n_train].std()
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def make_models(epochs, seed):
    """The two estimators with identical settings."""
    mlp = MLPRegressor(
        hidden_layer_sizes=(HIDDEN, HIDDEN),
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=BATCH,
        alpha=1e-4,
        tol=0,
        n_iter_no_change=NEVER,
        max_iter=epochs,
        random_state=seed,
    )
    ours = NNRegressor(
        [Dense(HIDDEN), ReLU(), Dense(HIDDEN), ReLU(), Dense()],
        learning_rate=1e-3,
        batch_size=BATCH,
        alpha=1e-4,
        tol=0,
        n_iter_no_change=NEVER,
        max_iter=epochs,
        random_state=seed,
    )
    return {"mlp": mlp, "ours": ours}


def time_fit(model, X, y, epochs):
    """Seconds per epoch of one fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return (time.perf_counter() - start) / epochs


def rows_per_second(models, X, repeats=20):
    """Best-of-``repeats`` prediction throughput on ``X``, models taking turns."""
    best = dict.fromkeys(models, np.inf)
    for _ in range(repeats):
        for key, model in models.items():
            start = time.perf_counter()
            model.predict(X)
            best[key] = min(best[key], time.perf_counter() - start)
    return {key: X.shape[0] / seconds for key, seconds in best.items()}


def matmul_floor(n_samples, n_features, dtype, repeats=2):
    """Seconds for the matrix products of one epoch with 64-wide layers.

    Per batch: the two forward products into the hidden layers, the weight
    gradients of both and the input gradient of the second hidden layer
    (with a contiguous ``W.T``, the faster layout). The width-1 output layer
    is left out, so this floor is on the low side.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, n_features)).astype(dtype)
    h = rng.standard_normal((BATCH, HIDDEN)).astype(dtype)
    w1 = rng.standard_normal((n_features, HIDDEN)).astype(dtype)
    w2 = rng.standard_normal((HIDDEN, HIDDEN)).astype(dtype)
    w2_t = np.ascontiguousarray(w2.T)
    out_h = np.empty_like(h)
    out_w1, out_w2 = np.empty_like(w1), np.empty_like(w2)
    n_batches = -(-n_samples // BATCH)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_batches):
            np.matmul(x, w1, out=out_h)
            np.matmul(h, w2, out=out_h)
            np.matmul(h.T, h, out=out_w2)
            np.matmul(h, w2_t, out=out_h)
            np.matmul(x.T, h, out=out_w1)
        best = min(best, time.perf_counter() - start)
    return best


def bench_case(name, n_train, dtype, epochs, rounds):
    """Alternate fits of both models and the floor; return one result row."""
    X, y, X_test, y_test = (a.astype(dtype) for a in make_data(name, n_train))
    times, scores, models = {"mlp": [], "ours": []}, {"mlp": [], "ours": []}, {}
    floors = []
    for round_index in range(rounds):
        order = ("mlp", "ours") if round_index % 2 == 0 else ("ours", "mlp")
        for key in order:
            models[key] = make_models(epochs, seed=round_index)[key]
            times[key].append(time_fit(models[key], X, y, epochs))
            scores[key].append(r2_score(y_test, models[key].predict(X_test)))
        floors.append(matmul_floor(n_train, X.shape[1], dtype))
    row = {"dataset": f"{name} {n_train}x{X.shape[1]}", "dtype": np.dtype(dtype).name}
    speeds = rows_per_second(models, X_test)
    for key in models:
        row[f"{key}_s"] = times[key]
        row[f"{key}_r2"] = statistics.median(scores[key])
        row[f"{key}_rows_s"] = speeds[key]
    row["floor_s"] = statistics.median(floors)
    return row


def format_row(row):
    """One table line."""
    mlp, ours = statistics.median(row["mlp_s"]), statistics.median(row["ours_s"])
    span = f"{min(row['ours_s']):.3f}-{max(row['ours_s']):.3f}"
    mlp_span = f"{min(row['mlp_s']):.3f}-{max(row['mlp_s']):.3f}"
    return (
        f"| {row['dataset']} | {row['dtype']} "
        f"| {mlp:.3f} ({mlp_span}) | {ours:.3f} ({span}) | {mlp / ours:.2f}x "
        f"| {row['floor_s']:.3f} | {ours / row['floor_s']:.2f}x "
        f"| {row['mlp_r2']:.4f} | {row['ours_r2']:.4f} "
        f"| {row['mlp_rows_s'] / 1e6:.2f}M | {row['ours_rows_s'] / 1e6:.2f}M "
        f"| {row['ours_rows_s'] / row['mlp_rows_s']:.2f}x |"
    )


HEADER = (
    "| dataset | dtype | MLP s/epoch median (min-max) | ours s/epoch median "
    "(min-max) | MLP/ours | matmul floor s median | ours/floor | MLP test R2 median "
    "| ours test R2 median | MLP predict rows/s | ours predict rows/s | ours/MLP |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def predict_memory(n_rows, n_features=50):
    """Peak bytes traced while predicting ``n_rows`` float32 rows, minus the output."""
    rng = np.random.default_rng(0)
    X_small = rng.standard_normal((2000, n_features), dtype=np.float32)
    model = make_models(2, seed=0)["ours"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_small, X_small[:, 0])
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    tracemalloc.start()
    start = time.perf_counter()
    y_pred = model.predict(X)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - y_pred.nbytes, X.nbytes, y_pred.nbytes, seconds


def blas_description():
    """The BLAS libraries NumPy and SciPy loaded, with kernel and threads."""
    return "; ".join(
        f"{info['internal_api']} {info.get('version')} "
        f"kernel={info.get('architecture')} threads={info['num_threads']}"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    )


def _positive(kind):
    """An argparse ``type`` accepting numbers of ``kind`` above 0."""

    def convert(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names it in "invalid int value"
    return convert


def parse_args(argv):
    """Arguments, all checked here: a bad one fails before any benchmark runs."""
    positive_int, positive_float = _positive(int), _positive(float)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute")
    parser.add_argument(
        "--rounds", type=positive_int, help="fits of each model per case"
    )
    parser.add_argument("--epochs", type=positive_int, help="epochs per fit")
    parser.add_argument("--threads", type=positive_int, default=1, help="BLAS threads")
    parser.add_argument(
        "--scale", type=positive_float, default=1.0, help="multiply dataset sizes"
    )
    parser.add_argument(
        "--memory-rows",
        type=positive_int,
        default=10_000_000,
        help="rows for memory test",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    epochs = args.epochs or (5 if args.quick else 20)
    cases = [("friedman1", 20_000), ("regression", 80_000)]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"BLAS: {blas_description()}")
        print(f"numpy {np.__version__}; {rounds} rounds x {epochs} epochs, A/B")
        print(HEADER)
        for name, n_train in cases:
            for dtype in (np.float64, np.float32):
                n = max(int(n_train * args.scale), 2 * BATCH)
                row = bench_case(name, n, dtype, epochs, rounds)
                print(format_row(row), flush=True)
        extra, x_bytes, out_bytes, seconds = predict_memory(args.memory_rows)
    print(
        f"predict {args.memory_rows} x 50 float32: {extra / 2**20:.1f} MiB traced "
        f"beyond input ({x_bytes / 2**20:.0f} MiB) and output "
        f"({out_bytes / 2**20:.0f} MiB), {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
