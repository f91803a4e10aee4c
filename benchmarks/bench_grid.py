"""Training speed over widths, batch sizes and dtypes, next to MLP and PyTorch.

For every width (16, 64, 256, 1024), batch size (32, 200, 1024) and dtype
(float64, float32), NNRegressor and MLPRegressor train the same network --
two hidden ReLU layers of that width, Adam at 1e-3, alpha 1e-4 -- on the
same standardised regression data (``make_regression``, 50 features) for a
fixed number of epochs, taking turns in one process (A B A B ...). When
PyTorch is importable, a plain PyTorch CPU loop (the same layers, Adam,
squared error, a shuffle per epoch) takes its turn too; it is never needed.

Each cell reports seconds per epoch (median over rounds) and the ratios
``MLP/ours`` and ``torch/ours`` (above 1: sknnlite is faster), and
``ours/floor``: our time over the matrix products of the epoch alone (the
two hidden layers' forward products, weight gradients and the second hidden
layer's input gradient; the 1-wide output layer is left out, so the floor is
on the low side). The header names the CPU, the BLAS library and kernel
(threadpoolctl) and the versions. After the grid, one-row latency of
``predict`` (regressor) and ``predict_proba`` (classifier) next to MLP's, for
the 64-64 network. BLAS runs on ``--threads`` threads (1 by default).

The clock is the calling thread's CPU time (``time.thread_time``) by
default: with BLAS (and PyTorch) on one thread all the work is there, and it
leaves out the time spent waiting for a core on a shared machine.
``--clock wall`` measures elapsed time instead (use it with ``--threads``
above 1).

Run from the repository root::

    python benchmarks/bench_grid.py --quick   # a few minutes
    python benchmarks/bench_grid.py           # longer, steadier
"""

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
from bench_mlp import NEVER, _positive, blas_description
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_limits

from sknnlite import Dense, NNClassifier, NNRegressor, ReLU

WIDTHS = (16, 64, 256, 1024)
BATCHES = (32, 200, 1024)
DTYPES = (np.float64, np.float32)
N_FEATURES = 50

try:  # optional: the grid has a PyTorch column only when it is installed
    import torch
except ImportError:
    torch = None


def cpu_model():
    """The processor's name as the kernel reports it."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_data(n_rows, dtype, seed=0):
    """Standardised regression data, ``n_rows`` x 50, in ``dtype``."""
    X, y = make_regression(
        n_samples=n_rows,
        n_features=N_FEATURES,
        n_informative=30,
        noise=10.0,
        random_state=seed,
    )
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    return X.astype(dtype), y.astype(dtype)


def make_ours(width, batch, epochs, seed):
    layers = [Dense(width), ReLU(), Dense(width), ReLU(), Dense()]
    return NNRegressor(
        layers,
        batch_size=batch,
        alpha=1e-4,
        tol=0,
        n_iter_no_change=NEVER,
        max_iter=epochs,
        random_state=seed,
    )


def make_mlp(width, batch, epochs, seed):
    return MLPRegressor(
        hidden_layer_sizes=(width, width),
        batch_size=batch,
        alpha=1e-4,
        tol=0,
        n_iter_no_change=NEVER,
        max_iter=epochs,
        random_state=seed,
    )


CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]  # set by main from --clock


def fit_seconds(make, X, y, width, batch, epochs, seed):
    """Seconds per epoch of one ``fit``."""
    model = make(width, batch, epochs, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = clock()
        model.fit(X, y)
        return (clock() - start) / epochs


def torch_seconds(X, y, width, batch, epochs, seed):
    """Seconds per epoch of a plain PyTorch loop with the same network."""
    torch.manual_seed(seed)
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, 1),
    ).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y).reshape(-1, 1)
    loss_function = torch.nn.MSELoss()
    start = clock()
    for _ in range(epochs):
        order = torch.randperm(inputs.shape[0])
        for first in range(0, inputs.shape[0], batch):
            rows = order[first : first + batch]
            optimizer.zero_grad(set_to_none=False)
            loss = loss_function(model(inputs[rows]), targets[rows])
            loss.backward()
            optimizer.step()
    return (clock() - start) / epochs


def matmul_floor(n_rows, width, batch, dtype, repeats=2):
    """Seconds for the matrix products of one epoch (see the module docstring)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, N_FEATURES)).astype(dtype)
    h = rng.standard_normal((batch, width)).astype(dtype)
    w1 = rng.standard_normal((N_FEATURES, width)).astype(dtype)
    w2 = rng.standard_normal((width, width)).astype(dtype)
    out_h, out_w1, out_w2 = np.empty_like(h), np.empty_like(w1), np.empty_like(w2)
    n_batches = -(-n_rows // batch)
    best = np.inf
    for _ in range(repeats):
        start = clock()
        for _ in range(n_batches):
            np.matmul(x, w1, out=out_h)
            np.matmul(h, w2, out=out_h)
            np.matmul(h.T, h, out=out_w2)
            np.matmul(h, w2.T, out=out_h)
            np.matmul(x.T, h, out=out_w1)
        best = min(best, clock() - start)
    return best


def bench_cell(width, batch, dtype, args):
    """Median seconds per epoch of every contender, taking turns."""
    X, y = make_data(args.rows, dtype)
    contenders = {
        "mlp": lambda seed: fit_seconds(
            make_mlp, X, y, width, batch, args.epochs, seed
        ),
        "ours": lambda seed: fit_seconds(
            make_ours, X, y, width, batch, args.epochs, seed
        ),
    }
    if torch is not None:
        contenders["torch"] = lambda seed: torch_seconds(
            X, y, width, batch, args.epochs, seed
        )
    times = {key: [] for key in contenders}
    for round_index in range(args.rounds):
        keys = list(contenders)
        for key in keys if round_index % 2 == 0 else keys[::-1]:
            times[key].append(contenders[key](round_index))
    row = {key: statistics.median(values) for key, values in times.items()}
    row["spread"] = {key: (min(v), max(v)) for key, v in times.items()}
    row["floor"] = matmul_floor(args.rows, width, batch, dtype)
    return row


def format_cell(width, batch, dtype, row):
    """One table line; ratios above 1 mean sknnlite is faster."""
    ours = row["ours"]
    low, high = row["spread"]["ours"]
    torch_cells = (
        f"{row['torch']:.3f} | {row['torch'] / ours:.2f}x"
        if "torch" in row
        else "- | -"
    )
    return (
        f"| {width} | {batch} | {np.dtype(dtype).name} | {row['mlp']:.3f} "
        f"| {ours:.3f} ({low:.3f}-{high:.3f}) | {torch_cells} "
        f"| {row['mlp'] / ours:.2f}x | {row['floor']:.3f} "
        f"| {ours / row['floor']:.1f}x |"
    )


HEADER = (
    "| width | batch | dtype | MLP s/epoch | ours s/epoch (min-max) | torch s/epoch "
    "| torch/ours | MLP/ours | matmul floor s | ours/floor |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def one_row_latency(dtype, args):
    """Microseconds per one-row call, best of alternating blocks of calls."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 10)).astype(dtype)
    y = X[:, 0] - X[:, 1] * X[:, 2]
    layers = [Dense(64), ReLU(), Dense(64), ReLU(), Dense()]
    mlp_settings = {"hidden_layer_sizes": (64, 64), "max_iter": 2, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        calls = {
            "MLPRegressor.predict": MLPRegressor(**mlp_settings).fit(X, y).predict,
            "NNRegressor.predict": NNRegressor(layers, max_iter=2, random_state=0)
            .fit(X, y)
            .predict,
            "MLPClassifier.predict_proba": MLPClassifier(**mlp_settings)
            .fit(X, y > 0)
            .predict_proba,
            "NNClassifier.predict_proba": NNClassifier(
                layers, max_iter=2, random_state=0
            )
            .fit(X, y > 0)
            .predict_proba,
        }
    row = X[:1].copy()
    best = dict.fromkeys(calls, np.inf)
    for round_index in range(args.latency_rounds):
        keys = list(calls)
        for key in keys if round_index % 2 == 0 else keys[::-1]:
            start = clock()
            for _ in range(100):
                calls[key](row)
            best[key] = min(best[key], (clock() - start) / 100 * 1e6)
    return best


def print_latency(dtype, args):
    best = one_row_latency(dtype, args)
    for ours, theirs in (
        ("NNRegressor.predict", "MLPRegressor.predict"),
        ("NNClassifier.predict_proba", "MLPClassifier.predict_proba"),
    ):
        print(
            f"| {ours} | {np.dtype(dtype).name} | {best[theirs]:.1f} "
            f"| {best[ours]:.1f} | {best[ours] / best[theirs]:.2f} |",
            flush=True,
        )


def parse_args(argv):
    """Arguments, all checked here: a bad one fails before any benchmark runs."""
    positive = _positive(int)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes")
    parser.add_argument("--rows", type=positive, help="training rows per cell")
    parser.add_argument("--epochs", type=positive, help="epochs per fit")
    parser.add_argument("--rounds", type=positive, help="fits of each contender")
    parser.add_argument("--threads", type=positive, default=1, help="BLAS threads")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu", help="what to time")
    parser.add_argument(
        "--widths", type=positive, nargs="+", default=WIDTHS, help="hidden widths"
    )
    parser.add_argument(
        "--batches", type=positive, nargs="+", default=BATCHES, help="batch sizes"
    )
    parser.add_argument(
        "--latency-rounds", type=positive, help="alternating blocks of one-row calls"
    )
    args = parser.parse_args(argv)
    args.rows = args.rows or (4096 if args.quick else 10_000)
    args.epochs = args.epochs or (2 if args.quick else 3)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.latency_rounds = args.latency_rounds or (10 if args.quick else 40)
    return args


def main(argv=None):
    global clock
    args = parse_args(argv)
    clock = CLOCKS[args.clock]
    if torch is not None:
        torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"CPU: {cpu_model()}")
        print(f"BLAS: {blas_description()}")
        torch_version = torch.__version__ if torch is not None else "not installed"
        print(
            f"numpy {np.__version__}; torch {torch_version}; {args.rows} rows x "
            f"{N_FEATURES} features, {args.epochs} epoch(s), median of "
            f"{args.rounds} alternating rounds; {args.clock} clock"
        )
        print(HEADER)
        for width in args.widths:
            for batch in args.batches:
                for dtype in DTYPES:
                    row = bench_cell(width, batch, dtype, args)
                    print(format_cell(width, batch, dtype, row), flush=True)
        print()
        print(
            "| one-row call | dtype | scikit-learn us | sknnlite us | ours/theirs |\n"
            "|---|---|---|---|---|"
        )
        for dtype in DTYPES:
            print_latency(dtype, args)


if __name__ == "__main__":
    main()
