"""Robust losses against outliers in y: R² on the inlying rows.

Each case trains ``NNRegressor`` (64-64 ReLU, ``max_iter=200``, the default
stopping rule) on Friedman1 targets some of which are replaced by huge
values, and scores the model on the other rows against their true targets.
The README's robust-loss paragraph quotes this table.

    python benchmarks/robust_losses.py [--seeds 5]

Cases:

- ``one outlier``: 500 rows, one target set to 1e6, ``learning_rate=0.01``
  (the case of issue 15).
- ``1 % outliers``: 1,000 rows, ten targets set to 1e6, ``learning_rate=0.01``.
- ``zero-inflated``: 1,000 rows whose target is 0 where ``X[:, 0] <= 0.8``
  (80 % zeros, so the quartiles are equal), then one or three zeros set to
  1e6; default learning rate.
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.metrics import r2_score

from sknnlite import NNRegressor
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    cases = [
        "one outlier",
        "1 % outliers",
        "zero-inflated, 1 outlier",
        "zero-inflated, 3 outliers",
    ]
    print(f"R² on the inlying rows, mean (min) over {args.seeds} seeds")
    print(f"| case | {' | '.join(LOSSES)} |")
    print(f"|---|{'---|' * len(LOSSES)}")
    for case in cases:
        cells = []
        for loss in LOSSES.values():
            scores = []
            for seed in range(args.seeds):
                X, y, corrupted, outliers, settings = _case(case, seed)
                model = NNRegressor(
                    loss=loss, max_iter=200, random_state=seed, **settings
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X, corrupted)
                inliers = np.setdiff1d(np.arange(len(y)), outliers)
                prediction = model.predict(X[inliers])
                scores.append(r2_score(y[inliers], prediction))
            cells.append(f"{np.mean(scores):.3f} ({min(scores):.3f})")
        print(f"| {case} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
