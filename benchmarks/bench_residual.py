"""Holdout accuracy of a residual stack next to a plain stack and MLP.

Three models with the same budget (Adam, learning rate 1e-3, at most
``--epochs`` epochs, early stopping on 10 % of the training rows), each in a
``Pipeline(StandardScaler(), model)`` fitted on 75 % of the rows and scored on
the other 25 % (R² for regression, accuracy for classification), averaged
over seeds (a seed draws the generated data, the split and ``random_state``):

* ``mlp``: scikit-learn's ``MLPRegressor``/``MLPClassifier`` with three hidden
  layers of 128 ReLU units;
* ``plain``: ``NNRegressor``/``NNClassifier`` with the same three layers;
* ``residual``: the "ResNet" of Gorishniy et al. ("Revisiting Deep Learning
  Models for Tabular Data", NeurIPS 2021) at a small size: ``Dense(128)``, two
  ``Residual([Dense(256), "relu", Dropout(0.1), Dense()], norm=BatchNorm())``
  blocks, then ``BatchNorm(), "relu", Dense()``.

Fits run one at a time with BLAS on one thread (the machine is shared); the
seconds are wall time per fit, averaged over seeds, and noisy under load.

Run from the repository root::

    python benchmarks/bench_residual.py            # 4 datasets x 3 seeds
    python benchmarks/bench_residual.py --seeds 1 --datasets diabetes
"""

import argparse
import statistics
import time
import warnings

from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_friedman1,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sknnlite import BatchNorm, Dense, Dropout, NNClassifier, NNRegressor, Residual

WIDTH = 128


def load(name, seed):
    """``(X, y, is_classification)`` of one dataset."""
    if name == "friedman1":
        X, y = make_friedman1(n_samples=2000, noise=1.0, random_state=seed)
        return X, y, False
    loader = {
        "diabetes": load_diabetes,
        "breast_cancer": load_breast_cancer,
        "digits": load_digits,
    }[name]
    X, y = loader(return_X_y=True)
    return X, y, name != "diabetes"


def models(classification, epochs, seed):
    """``{name: estimator}`` with the same budget."""
    common = {"max_iter": epochs, "early_stopping": True, "random_state": seed}
    mlp = MLPClassifier if classification else MLPRegressor
    nn = NNClassifier if classification else NNRegressor
    plain = [Dense(WIDTH), "relu", Dense(WIDTH), "relu", Dense(WIDTH), "relu", Dense()]
    residual = [
        Dense(WIDTH),
        Residual([Dense(2 * WIDTH), "relu", Dropout(0.1), Dense()], norm=BatchNorm()),
        Residual([Dense(2 * WIDTH), "relu", Dropout(0.1), Dense()], norm=BatchNorm()),
        BatchNorm(),
        "relu",
        Dense(),
    ]
    return {
        "mlp": mlp(hidden_layer_sizes=(WIDTH,) * 3, **common),
        "plain": nn(plain, **common),
        "residual": nn(residual, **common),
    }


def run(datasets, seeds, epochs):
    """``{(dataset, model): ([scores], [seconds])}``."""
    results = {}
    for name in datasets:
        for seed in range(seeds):
            X, y, classification = load(name, seed)
            split = train_test_split(X, y, test_size=0.25, random_state=seed)
            X_train, X_test, y_train, y_test = split
            for label, model in models(classification, epochs, seed).items():
                pipeline = make_pipeline(StandardScaler(), model)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    pipeline.fit(X_train, y_train)
                seconds = time.perf_counter() - start
                scores, times = results.setdefault((name, label), ([], []))
                scores.append(pipeline.score(X_test, y_test))
                times.append(seconds)
    return results


def table(results, datasets, labels=("mlp", "plain", "residual")):
    """A Markdown table: mean score ± standard error, and mean seconds."""
    header = "| dataset | " + " | ".join(labels) + " | seconds (" + ", ".join(labels)
    lines = [header + ") |", "|---" * (len(labels) + 2) + "|"]
    for name in datasets:
        cells, seconds = [], []
        for label in labels:
            scores, times = results[(name, label)]
            error = (
                statistics.stdev(scores) / len(scores) ** 0.5 if len(scores) > 1 else 0
            )
            cells.append(f"{statistics.mean(scores):.3f} ± {error:.3f}")
            seconds.append(f"{statistics.mean(times):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {', '.join(seconds)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["diabetes", "friedman1", "breast_cancer", "digits"],
        choices=["diabetes", "friedman1", "breast_cancer", "digits"],
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args(argv)
    with threadpool_limits(1):
        results = run(args.datasets, args.seeds, args.epochs)
    print(table(results, args.datasets))


if __name__ == "__main__":
    main()
