"""Prediction speed of NNRegressor next to scikit-learn's MLPRegressor.

Both estimators are trained briefly on the same standardised data with the
same 64-64 ReLU network (as in ``bench_mlp.py``), then measured side by side
in one process, taking turns (A B A B ...):

* throughput: rows per second of ``predict`` on the test rows, best of
  ``--repeats`` alternating calls;
* latency: microseconds per call of a one-row ``predict`` (the request a
  server answers), the best over ``--repeats`` alternating blocks of
  ``--block`` calls each.

BLAS is pinned to one thread, as in ``bench_mlp.py``, so all the work of a
call runs in the calling thread. By default the clock is that thread's CPU
time (``time.thread_time``, kernel time such as page faults included), which
leaves out the time spent waiting for a core on a shared machine;
``--clock wall`` measures elapsed time instead. Run from the repository
root::

    python benchmarks/bench_predict.py          # about a minute
    python benchmarks/bench_predict.py --quick  # about 15 seconds
"""

import argparse
import time
import warnings

import numpy as np
from bench_mlp import blas_description, make_data, make_models
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

CASES = [("friedman1", 20_000), ("regression", 80_000)]


def fitted_models(X, y, epochs):
    """Both models trained for ``epochs`` epochs with the same seed."""
    models = make_models(epochs, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model in models.values():
            model.fit(X, y)
    return models


CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


def best_seconds(models, call, repeats, clock):
    """Best time of ``call(model)`` per model over alternating repeats."""
    best = dict.fromkeys(models, np.inf)
    for round_index in range(repeats):
        keys = list(models) if round_index % 2 == 0 else list(models)[::-1]
        for key in keys:
            start = clock()
            call(models[key])
            best[key] = min(best[key], clock() - start)
    return best


def bench_case(name, n_train, dtype, args):
    """Throughput and one-row latency of both models on one dataset."""
    X, y, X_test, _ = (a.astype(dtype) for a in make_data(name, n_train))
    models = fitted_models(X, y, args.epochs)
    row = {"dataset": f"{name} {X_test.shape[0]}x{X.shape[1]}"}
    row["dtype"] = np.dtype(dtype).name
    clock, repeats = CLOCKS[args.clock], args.repeats
    seconds = best_seconds(models, lambda m: m.predict(X_test), repeats, clock)
    row.update({f"{k}_rows_s": X_test.shape[0] / s for k, s in seconds.items()})
    one_row = X_test[:1]

    def one_row_block(model):
        for _ in range(args.block):
            model.predict(one_row)

    seconds = best_seconds(models, one_row_block, 2 * repeats, clock)
    row.update({f"{k}_latency_us": s / args.block * 1e6 for k, s in seconds.items()})
    return row


HEADER = (
    "| dataset (test rows) | dtype | MLP rows/s | ours rows/s | ours/MLP "
    "| MLP 1-row us | ours 1-row us | MLP/ours latency |\n"
    "|---|---|---|---|---|---|---|---|"
)


def format_row(row):
    """One table line; ratios above 1 mean ours is faster."""
    return (
        f"| {row['dataset']} | {row['dtype']} "
        f"| {row['mlp_rows_s'] / 1e6:.2f}M | {row['ours_rows_s'] / 1e6:.2f}M "
        f"| {row['ours_rows_s'] / row['mlp_rows_s']:.2f}x "
        f"| {row['mlp_latency_us']:.1f} | {row['ours_latency_us']:.1f} "
        f"| {row['mlp_latency_us'] / row['ours_latency_us']:.2f}x |"
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 15 seconds")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs")
    parser.add_argument("--repeats", type=int, help="alternating timings per model")
    parser.add_argument("--block", type=int, default=50, help="one-row calls timed")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu", help="what to time")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply dataset sizes"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.repeats = args.repeats or (5 if args.quick else 20)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"BLAS: {blas_description()}")
        print(
            f"numpy {np.__version__}; {args.clock} clock; best of {args.repeats} "
            f"alternating calls (latency: of {2 * args.repeats} blocks of "
            f"{args.block} calls), A/B"
        )
        print(HEADER)
        for name, n_train in CASES:
            for dtype in (np.float64, np.float32):
                n = max(int(n_train * args.scale), 400)
                print(format_row(bench_case(name, n, dtype, args)), flush=True)


if __name__ == "__main__":
    main()
