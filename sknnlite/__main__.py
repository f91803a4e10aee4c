"""Demo: ``python -m sknnlite``.

Trains NNRegressor on the diabetes data that ships with scikit-learn, inside
a Pipeline, compares it with MLPRegressor on the same cross-validation
folds, and tunes the architecture with a small GridSearchCV. Then it fits one
model with early stopping, prints its summary and, when matplotlib is
installed, saves its loss curves (``--loss-curve PATH``, default
``loss_curve.png``). Arguments are checked before any training starts.
"""

import argparse
import io
import pathlib
import tempfile
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

#: Where the loss curves go when ``--loss-curve`` is not given.
DEFAULT_LOSS_CURVE = "loss_curve.png"

# The module docstring is reST for the documentation; --help prints this.
_DESCRIPTION = """\
Demo of sknnlite. Trains NNRegressor on the diabetes data that ships with
scikit-learn, inside a Pipeline, compares it with MLPRegressor on the same
cross-validation folds, and tunes the architecture with a small GridSearchCV.
Then it fits one model with early stopping, prints its summary and, when
matplotlib is installed, saves a picture of its loss curves.

Takes about a minute. Arguments are checked before any training starts."""


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
    _save_loss_curve(model, path)


def _save_loss_curve(model, path):
    """Save the loss curves of ``model`` (a Pipeline) to ``path``, or say why not."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: pip install matplotlib to save a plot.")
        return
    if len(model[-1].loss_curve_) == 0:
        print("The model recorded no epoch (it diverged in its first), so no plot.")
        return
    matplotlib.use("Agg")
    display = LossCurveDisplay.from_estimator(model, name="NNRegressor, diabetes")
    display.figure_.savefig(path, dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(display.figure_)  # main() may run in a session that keeps going
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


def _parse_args(argv):
    """The demo's arguments, checked now so that a bad one fails before training."""
    parser = argparse.ArgumentParser(
        prog="python -m sknnlite",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--loss-curve",
        metavar="PATH",
        help=f"where to save the loss-curve picture (default: {DEFAULT_LOSS_CURVE}); "
        "its suffix picks the format: .png, .svg, .pdf, ...",
    )
    args = parser.parse_args(argv)
    explicit = args.loss_curve is not None
    args.loss_curve = args.loss_curve if explicit else DEFAULT_LOSS_CURVE
    problem = _loss_curve_problem(args.loss_curve, explicit)
    if problem:
        parser.error(f"argument --loss-curve: {problem}")  # exits with status 2
    return args


def _loss_curve_problem(path, explicit):
    """Why the picture could not be saved at ``path``, or None if it can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if not explicit:  # the demo runs, and says at the end how to get a plot
            return None
        return (
            "saving a loss curve needs matplotlib, which is not installed. "
            "Install it (pip install matplotlib) or leave out --loss-curve."
        )
    path = pathlib.Path(path)
    return _folder_problem(path) or _format_problem(path)


def _folder_problem(path):
    """Why no file can be written at ``path``, or None."""
    folder = path.parent
    if path.is_dir():
        return f"{path} is a folder; give a file name, e.g. {path / DEFAULT_LOSS_CURVE}"
    if not folder.is_dir():
        return f"the folder {folder} does not exist; create it or choose another path"
    # Try it: os.access says yes to root everywhere, and a folder such as
    # /proc refuses new files whoever asks.
    try:
        if path.exists():
            with open(path, "ab"):  # opened for appending: nothing is changed
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder):
                pass
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        return f"cannot write {path}: {reason}; choose another path"
    return None


def _format_problem(path):
    """Why matplotlib cannot save a plot in the format of ``path``'s suffix, or None."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    known = ", ".join(f".{name}" for name in sorted(formats))
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        what = f"unknown image format {path.suffix!r}" if suffix else "no suffix"
        return f"{path} has {what}; the suffix picks the format: {known}"
    # Some formats need more than matplotlib (.pgf needs LaTeX): draw a tiny
    # plot in that format now rather than fail after a minute of training.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    display = LossCurveDisplay(loss_curve=[1.0, 0.5], validation_scores=[0.1, 0.2])
    figure = display.plot().figure_
    try:
        figure.savefig(io.BytesIO(), format=suffix)
    except Exception as error:  # whatever the backend raises, say it now
        return f"matplotlib cannot save .{suffix} files here: {error}"
    finally:
        plt.close(figure)
    return None


def main(argv=None):
    """Run the demo and print the results."""
    args = _parse_args(argv)
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
