"""Demo: ``python -m sknnlite``.

Trains NNRegressor on the diabetes data that ships with scikit-learn, inside
a Pipeline, compares it with MLPRegressor on the same cross-validation
folds, and tunes the architecture with a small GridSearchCV. Then it fits one
model with early stopping, prints its summary and, when matplotlib is
installed, saves its loss curves (``--loss-curve PATH``, default
``loss_curve.png``).
"""

import argparse
import time
import warnings

from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import Dense, LossCurveDisplay, NNRegressor, ReLU, Tanh, __version__


def _cv_scores(model, X, y, cv):
    """Mean and spread of R² over the folds, and the seconds it took."""
    start = time.perf_counter()
    scores = cross_val_score(model, X, y, cv=cv)
    return scores.mean(), scores.std(), time.perf_counter() - start


def _show_training(X, y, path):
    """Fit one model with early stopping, print its summary, save its curves."""
    model = make_pipeline(
        StandardScaler(),
        NNRegressor(
            [Dense(64), ReLU(), Dense(64), ReLU(), Dense()],
            learning_rate=0.001,
            max_iter=300,
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=30,
            random_state=0,
        ),
    ).fit(X, y)
    network = model[-1]
    print(f"\nOne model with early stopping, {network.n_iter_} epochs:")
    print(network.summary())
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: pip install matplotlib to save a plot.")
        return
    matplotlib.use("Agg")
    display = LossCurveDisplay.from_estimator(model, name="NNRegressor, diabetes")
    display.figure_.savefig(path, dpi=100, bbox_inches="tight")
    print(f"Loss curves saved to {path}")


def _compare_with_mlp(X, y, cv):
    """Print NNRegressor's and MLPRegressor's R² on the same folds; return ours."""
    ours = make_pipeline(
        StandardScaler(),
        NNRegressor([Dense(100), ReLU(), Dense()], max_iter=200, random_state=0),
    )
    mlp = make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(100,), max_iter=200, random_state=0),
    )
    rows = [
        ("NNRegressor [Dense(100), ReLU(), Dense()]", ours),
        ("MLPRegressor(hidden_layer_sizes=(100,))", mlp),
        (
            "MLPRegressor, standardised target",
            TransformedTargetRegressor(mlp, transformer=StandardScaler()),
        ),
    ]
    for name, model in rows:
        mean, std, seconds = _cv_scores(model, X, y, cv)
        print(f"{name:<44} R² = {mean:6.3f} ± {std:.3f}  ({seconds:.1f} s)")
    return ours


def _search_architectures(pipeline, X, y, cv):
    """Grid-search two stacks and two L2 strengths and print every score."""
    grid = {
        "nnregressor__layers": [
            [Dense(64), ReLU(), Dense()],
            [Dense(32), Tanh(), Dense(32), Tanh(), Dense()],
        ],
        "nnregressor__alpha": [1e-4, 1.0],
    }
    search = GridSearchCV(pipeline, grid, cv=cv).fit(X, y)
    print("\nGridSearchCV over two architectures and two L2 strengths:")
    for params, score in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_score"],
        strict=True,
    ):
        print(f"  R² = {score:6.3f}  {params}")
    print(f"best: {search.best_params_}")


def main(argv=None):
    """Run the demo and print the results."""
    parser = argparse.ArgumentParser(prog="python -m sknnlite", description=__doc__)
    parser.add_argument(
        "--loss-curve",
        default="loss_curve.png",
        metavar="PATH",
        help="where to save the loss-curve picture (default: loss_curve.png)",
    )
    args = parser.parse_args(argv)
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(n_splits=5, shuffle=True, random_state=0)
    print(
        f"sknnlite {__version__}: diabetes data, {X.shape[0]} rows x "
        f"{X.shape[1]} features, 5-fold CV, R² (higher is better)\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = _compare_with_mlp(X, y, cv)
        _search_architectures(ours, X, y, cv)
    _show_training(X, y, args.loss_curve)


if __name__ == "__main__":
    main()
