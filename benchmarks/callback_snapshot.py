"""What a callback's per-epoch ``fitted_estimator`` snapshot costs.

Trains a ~1.1M-parameter regressor (100 -> 1000 -> 1000 -> 1, Adam) for a
few epochs with no callback, with a callback that does not ask for
``fitted_estimator`` (as ``ProgressBar``), with one that asks for it (and so
gets a deep copy of the fitted state every epoch) and with scikit-learn's
``ScoringMonitor`` (which asks for it and scores the copy on the training
data). The four take turns (A B C D, B C D A, ...) in one process, BLAS
pinned to one thread; the table gives the best seconds per epoch over the
rounds, and the time of one snapshot on its own.

Run from the repository root (needs scikit-learn >= 1.9)::

    python benchmarks/callback_snapshot.py [--rounds 5] [--epochs 5]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.callback import ScoringMonitor
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sknnlite import Dense, NNRegressor, ReLU
from sknnlite._callbacks import fitted_state_copy


class _Counting:
    """Counts epoch ends; does not ask for ``fitted_estimator``."""

    def setup(self, estimator, context):
        self.n = 0

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        self.n += 1

    def teardown(self, estimator, context):
        pass


class _Snapshotting(_Counting):
    """Asks for ``fitted_estimator`` at every task end (and reads it)."""

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.n += fitted_estimator.n_iter_


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _model(epochs):
    return NNRegressor(
        [Dense(1000), ReLU(), Dense(1000), ReLU(), Dense()],
        max_iter=epochs,
        tol=0,
        n_iter_no_change=10**9,
        random_state=0,
    )


def _seconds_per_epoch(callbacks, X, y, epochs):
    model = _model(epochs)
    if callbacks:
        model.set_callbacks(*callbacks)
    start = time.perf_counter()
    model.fit(X, y)
    return (time.perf_counter() - start) / epochs, model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=_positive_int, default=5)
    parser.add_argument("--epochs", type=_positive_int, default=5)
    parser.add_argument("--rows", type=_positive_int, default=512)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, 100))
    y = X[:, :5].sum(axis=1)
    cases = {
        "no callback": lambda: [],
        "callback, no fitted_estimator": lambda: [_Counting()],
        "callback with fitted_estimator": lambda: [_Snapshotting()],
        "ScoringMonitor(scoring='r2')": lambda: [ScoringMonitor(scoring="r2")],
    }
    best = dict.fromkeys(cases, np.inf)
    names = list(cases)
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                seconds, model = _seconds_per_epoch(cases[name](), X, y, args.epochs)
                best[name] = min(best[name], seconds)
        copies = []
        for _ in range(10 * args.rounds):
            start = time.perf_counter()
            fitted_state_copy(model)
            copies.append(time.perf_counter() - start)
    n_params = model.network_.coef.size
    print(f"{n_params:,} parameters, {args.rows} rows, batch 200, Adam, 1 BLAS thread")
    print(f"best of {args.rounds} rounds x {args.epochs} epochs, seconds per epoch:")
    for name in names:
        extra = (best[name] / best["no callback"] - 1) * 100
        print(f"  {name:<32} {best[name]:.4f}  ({extra:+.1f}%)")
    print(
        f"one snapshot (fitted_state_copy): best {min(copies) * 1e3:.1f} ms, "
        f"median {np.median(copies) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
