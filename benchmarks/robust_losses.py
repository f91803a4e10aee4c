"""Robust losses against outliers in y: R² on the inlying rows.

Each case trains ``NNRegressor`` (64-64 ReLU, ``max_iter=200``, the default
stopping rule) on Friedman1 targets some of which are replaced by huge
values, and scores the model on the other rows against their true targets.
The README's robust-loss paragraph quotes this table.

    python benchmarks/robust_losses.py [--seeds 5]
    python benchmarks/robust_losses.py --huber [--seeds 3]

With ``--huber`` it measures ``Huber(delta)`` for several ``delta`` against
``"absolute_error"`` and ``"squared_error"`` instead (the evidence for the
default ``delta``): two networks (the default one hidden layer of 100 with
``learning_rate=0.001``, and 64-64 with ``learning_rate=0.01``), each on
clean data scored on 30 % held-out rows (Friedman1 without and with noise,
diabetes), and on Friedman1 (1,000 rows) with outliers: one or ten targets
set to 1e6, 5 % moved by +-100 standard deviations (scored on the other
rows against their true targets), and Cauchy or Student-t (2 degrees of
freedom) noise (scored on held-out rows against the noiseless target).

Cases:

- ``one outlier``: 500 rows, one target set to 1e6, ``learning_rate=0.01``
  (the case of issue 15).
- ``1 % outliers``: 1,000 rows, ten targets set to 1e6, ``learning_rate=0.01``.
- ``zero-inflated``: 1,000 rows whose target is 0 where ``X[:, 0] <= 0.8``
  (80 % zeros, so the quartiles are equal), then one or three zeros set to
  1e6; default learning rate.
"""

import argparse
import functools
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, Huber, NNRegressor, ReLU
from sknnlite.losses import Quantile

LOSSES = {
    "squared_error": "squared_error",
    "absolute_error": "absolute_error",
    "huber": "huber",
    "quantile 0.5": Quantile(quantiles=[0.5]),
}


def _case(name, seed):
    """``X``, the clean ``y``, the corrupted ``y``, the outlying rows, fit settings."""
    n, n_outliers, settings, zero_inflated = {
        "one outlier": (500, 1, {"learning_rate": 0.01}, False),
        "1 % outliers": (1000, 10, {"learning_rate": 0.01}, False),
        "zero-inflated, 1 outlier": (1000, 1, {}, True),
        "zero-inflated, 3 outliers": (1000, 3, {}, True),
    }[name]
    X, y = make_friedman1(n_samples=n, random_state=seed)
    if zero_inflated:
        y = np.where(X[:, 0] > 0.8, y, 0.0)
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(y == 0) if zero_inflated else np.arange(n)
    outliers = rng.choice(candidates, n_outliers, replace=False)
    corrupted = y.copy()
    corrupted[outliers] = 1e6
    return X, y, corrupted, outliers, settings


HUBER_CASES = [
    "friedman1",
    "friedman1, noise 1",
    "diabetes",
    "one 1e6",
    "1 % at 1e6",
    "5 % at +-100 sd",
    "Cauchy noise",
    "Student-t noise",
]
HUBER_LOSSES = {
    "absolute_error": "absolute_error",
    "delta=1": Huber(1.0),
    "delta=0.5": Huber(0.5),
    "delta=0.2": Huber(0.2),
    "delta=0.1": Huber(0.1),
    "squared_error": "squared_error",
}


def _huber_case(name, seed):
    """Training rows, training targets, and the rows and true targets to score."""
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        noisy = y
    else:
        noise = 1.0 if name == "friedman1, noise 1" else 0.0
        X, y = make_friedman1(n_samples=1000, noise=noise, random_state=seed)
        rng = np.random.default_rng(seed)
        noisy = y.copy()
        outliers = {"one 1e6": 1, "1 % at 1e6": 10, "5 % at +-100 sd": 50}
        if name in outliers:
            rows = rng.choice(len(y), outliers[name], replace=False)
            if name.startswith("5 %"):
                noisy[rows] += rng.choice([-1, 1], len(rows)) * 100 * y.std()
            else:
                noisy[rows] = 1e6
            inliers = np.setdiff1d(np.arange(len(y)), rows)
            X = StandardScaler().fit_transform(X)
            return X, noisy, X[inliers], y[inliers]
        if name == "Cauchy noise":
            noisy = y + rng.standard_cauchy(len(y))
        elif name == "Student-t noise":
            noisy = y + rng.standard_t(2, len(y))
    X = StandardScaler().fit_transform(X)
    n_train = int(0.7 * len(y))
    return X[:n_train], noisy[:n_train], X[n_train:], y[n_train:]


def _fit_and_score(X, y, X_score, y_score, **settings):
    """R² on ``(X_score, y_score)`` of ``NNRegressor(**settings)`` fitted on X, y."""
    model = NNRegressor(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return r2_score(y_score, model.predict(X_score))


def _print_table(first_column, cases, losses, seeds, score, min_digits):
    """A row per case, a "mean (min)" cell per loss of ``score(case, loss, seed)``."""
    print(f"| {first_column} | {' | '.join(losses)} |")
    print(f"|---|{'---|' * len(losses)}")
    for case in cases:
        cells = []
        for loss in losses.values():
            scores = [score(case, loss, seed) for seed in range(seeds)]
            cells.append(f"{np.mean(scores):.3f} ({min(scores):.{min_digits}f})")
        print(f"| {case} | {' | '.join(cells)} |", flush=True)


def _huber_score(deep, learning_rate, case, loss, seed):
    """R² of one :func:`_huber_case` with the default or the 64-64 network."""
    layers = [Dense(64), ReLU(), Dense(64), ReLU(), Dense()] if deep else None
    return _fit_and_score(
        *_huber_case(case, seed),
        layers=layers,
        loss=loss,
        learning_rate=learning_rate,
        random_state=seed,
    )


def huber_table(seeds):
    """R² of each delta, mean (min) over ``seeds``, for both networks."""
    networks = {
        "default network, learning_rate=0.001": (False, 0.001),
        "64-64 ReLU, learning_rate=0.01": (True, 0.01),
    }
    for title, (deep, learning_rate) in networks.items():
        print(f"\n{title}: R² against the true targets, mean (min) over {seeds} seeds")
        score = functools.partial(_huber_score, deep, learning_rate)
        _print_table("data", HUBER_CASES, HUBER_LOSSES, seeds, score, min_digits=2)


def _robust_score(case, loss, seed):
    """R² on the inlying rows of one :func:`_case`."""
    X, y, corrupted, outliers, settings = _case(case, seed)
    inliers = np.setdiff1d(np.arange(len(y)), outliers)
    return _fit_and_score(
        X,
        corrupted,
        X[inliers],
        y[inliers],
        loss=loss,
        max_iter=200,
        random_state=seed,
        **settings,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--huber", action="store_true", help="compare Huber deltas")
    args = parser.parse_args()
    if args.huber:
        huber_table(args.seeds or 3)
        return
    seeds = args.seeds or 5
    cases = [
        "one outlier",
        "1 % outliers",
        "zero-inflated, 1 outlier",
        "zero-inflated, 3 outliers",
    ]
    print(f"R² on the inlying rows, mean (min) over {seeds} seeds")
    _print_table("case", cases, LOSSES, seeds, _robust_score, min_digits=3)


if __name__ == "__main__":
    main()
