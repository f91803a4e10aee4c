"""The numbers behind the documentation's "Tips on practical use".

Four questions a new user asks, each answered on data that ships with
scikit-learn, with every seed fixed:

1. Learning rate: a 64-64 ReLU regressor on the diabetes data (5-fold
   cross-validation, StandardScaler) at learning rates 1e-4, 1e-3 and 1e-2,
   seeds 0-4; and on 1000 rows of make_friedman1 at 1e-3 and 1e-2.
2. Feature scaling: NNClassifier on the wine data (features from 0.1 to
   1680) with and without StandardScaler.
3. Early stopping: the default NNClassifier on the digits data (25 % test
   split, StandardScaler) without early stopping, with it at its defaults,
   and with a longer patience; MLPClassifier with its default early stopping
   next to it.
4. Batch size: 5000 rows of make_friedman1, batch sizes 32, "auto" (200)
   and 1000, default stopping: epochs, seconds and test R².

Run from the repository root (about two minutes on a quiet 2-core machine)::

    python benchmarks/practical_tips.py
"""

import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits, load_wine, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sknnlite import Dense, NNClassifier, NNRegressor, ReLU

SEEDS = range(5)


def _two_layer_regressor(learning_rate, seed, max_iter=200):
    """The 64-64 ReLU regressor of the guide, behind a StandardScaler."""
    return make_pipeline(
        StandardScaler(),
        NNRegressor(
            [Dense(64), ReLU(), Dense(64), ReLU(), Dense()],
            learning_rate=learning_rate,
            max_iter=max_iter,
            random_state=seed,
        ),
    )


def _spread(values):
    """``mean (min to max)`` of a list of numbers."""
    return f"{statistics.mean(values):.3f} ({min(values):.3f} to {max(values):.3f})"


def learning_rate():
    """Cross-validated R² per learning rate, on diabetes and friedman1."""
    print("\n1. Learning rate: mean CV R² over seeds 0-4 (lowest to highest seed)")
    X, y = load_diabetes(return_X_y=True)
    folds = KFold(5, shuffle=True, random_state=0)
    for rate in (1e-4, 1e-3, 1e-2):
        scores = [
            cross_val_score(_two_layer_regressor(rate, seed), X, y, cv=folds).mean()
            for seed in SEEDS
        ]
        print(f"   diabetes (442 rows)   learning_rate={rate:g}: {_spread(scores)}")
    X, y = make_friedman1(n_samples=1000, random_state=0)
    for rate in (1e-3, 1e-2):
        scores = [
            cross_val_score(_two_layer_regressor(rate, seed), X, y, cv=folds).mean()
            for seed in SEEDS
        ]
        print(f"   friedman1 (1000 rows) learning_rate={rate:g}: {_spread(scores)}")


def feature_scaling():
    """Test accuracy on wine with and without standardising the features."""
    print("\n2. Feature scaling: wine, test accuracy over seeds 0-4")
    X, y = load_wine(return_X_y=True)
    for scaled in (False, True):
        accuracies = []
        for seed in SEEDS:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, stratify=y, random_state=seed
            )
            model = NNClassifier(random_state=seed)
            if scaled:
                model = make_pipeline(StandardScaler(), model)
            accuracies.append(model.fit(X_train, y_train).score(X_test, y_test))
        label = "StandardScaler" if scaled else "raw features  "
        print(f"   {label}: {_spread(accuracies)}")


def early_stopping():
    """Stopping epoch and test accuracy on digits, with and without early stopping."""
    print("\n3. Early stopping: digits, epochs run and test accuracy, seeds 0-4")
    X, y = load_digits(return_X_y=True)
    settings = {
        "NNClassifier, no early stopping": {},
        "NNClassifier, early_stopping=True": {"early_stopping": True},
        "NNClassifier, early_stopping=True, n_iter_no_change=30": {
            "early_stopping": True,
            "n_iter_no_change": 30,
        },
    }
    for name, params in settings.items():
        _report_digits(
            name, X, y, lambda seed, p=params: NNClassifier(random_state=seed, **p)
        )
    _report_digits(
        "MLPClassifier, early_stopping=True",
        X,
        y,
        lambda seed: MLPClassifier(early_stopping=True, random_state=seed),
    )


def _report_digits(name, X, y, make):
    """Print epochs and test accuracy of ``make(seed)`` over the seeds."""
    epochs, accuracies = [], []
    for seed in SEEDS:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, stratify=y, random_state=seed
        )
        model = make_pipeline(StandardScaler(), make(seed)).fit(X_train, y_train)
        epochs.append(model[-1].n_iter_)
        accuracies.append(model.score(X_test, y_test))
    print(f"   {name}: epochs {epochs}, accuracy {_spread(accuracies)}")


def batch_size():
    """Epochs, seconds and test R² per batch size on 5000 rows of friedman1."""
    print("\n4. Batch size: friedman1 5000 rows, seeds 0-2")
    X, y = make_friedman1(n_samples=6000, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=1000, random_state=0
    )
    for size in (32, "auto", 1000):
        epochs, seconds, scores = [], [], []
        for seed in range(3):
            model = _two_layer_regressor(1e-3, seed)
            model.set_params(nnregressor__batch_size=size)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            seconds.append(time.perf_counter() - start)
            epochs.append(model[-1].n_iter_)
            scores.append(model.score(X_test, y_test))
        print(
            f"   batch_size={size!s:>4}: epochs {epochs}, seconds {_spread(seconds)}, "
            f"test R² {_spread(scores)}"
        )


def main():
    """Run the four measurements, BLAS pinned to one thread."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        print(f"numpy {np.__version__}")
        learning_rate()
        feature_scaling()
        early_stopping()
        batch_size()


if __name__ == "__main__":
    main()
