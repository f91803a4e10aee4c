"""Holdout accuracy of sknnlite next to scikit-learn's MLP, as users run them.

Every model is a ``Pipeline(StandardScaler(), model)`` fitted on 75 % of the
rows and scored on the other 25 % (R² for regression, accuracy for
classification, subset accuracy for multilabel), averaged over seeds; a seed
draws the data (generated sets), the split and the model's ``random_state``.
Budgets: ``10``, ``30`` and ``200`` train a 64-64 ReLU network with Adam for at
most that many epochs (every other setting left at its default, so the
stopping rule applies); ``default`` uses both libraries' defaults
(``NNRegressor()`` against ``MLPRegressor()``, one hidden layer of 100).
Regressors are compared with ``MLPRegressor`` as is and inside a
``TransformedTargetRegressor`` that standardises ``y``: the fair peer, since
sknnlite standardises the target itself. "diff" is sknnlite minus the fair
peer (the plain MLP for classifiers), with its standard error over seeds.

Candidate settings of sknnlite get columns of their own, so the same script
chooses defaults::

    python benchmarks/bench_accuracy.py                      # everything
    python benchmarks/bench_accuracy.py --quick              # a few minutes
    python benchmarks/bench_accuracy.py --datasets sincos friedman3 \\
        --budgets 30 --set dense__init=glorot_uniform

``--set`` takes comma-separated ``key=value`` pairs (values parsed as Python
literals, else strings), optionally after ``label:``, and may be repeated, one
column per use. Keys are
``NNRegressor``/``NNClassifier`` parameters (``batch_size=32``,
``optimizer__epsilon=1e-7``, ``layers__0__init=he_uniform``), or
``dense__<name>`` for every ``Dense`` layer, ``hidden__<name>`` for every
``Dense`` but the last and ``output__<name>`` for the last; ``activation=GELU``
puts another sknnlite activation in place of ReLU (in sknnlite's columns).

Each fit's score is cached in ``benchmarks/results/accuracy.json`` (ignored by
git), keyed by the model, dataset, budget, seed and settings and by a
fingerprint of the code that produced it (the sknnlite sources, or the
scikit-learn version), so interrupted and partial runs combine and MLP is not
refitted when only sknnlite changes. ``--no-cache`` ignores it. BLAS runs on
one thread and fits run one at a time: the machine is shared.
"""

import argparse
import ast
import hashlib
import json
import math
import os
import pathlib
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_friedman1,
    make_friedman2,
    make_friedman3,
    make_moons,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import sknnlite
from sknnlite import Dense, NNClassifier, NNRegressor, ReLU, Sigmoid, Tanh

ROOT = pathlib.Path(__file__).resolve().parent
CACHE = ROOT / "results" / "accuracy.json"
#: Bump when a dataset definition changes, so cached scores are not reused.
DATA_VERSION = 1
BUDGETS = ("10", "30", "200", "default")
HIDDEN = (64, 64)
#: MLP's activation names and the sknnlite layers that compute the same.
ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "logistic": Sigmoid}


@dataclass(frozen=True)
class Dataset:
    """A benchmark problem: ``make(seed)`` returns ``(X, y)``."""

    task: str  # "regression" or "classification"
    make: object
    note: str
    large: bool = False
    #: Small sets score in coarse steps (iris: 1/38): run this many times the seeds.
    seed_factor: int = 1


def _sincos(seed, n=3000):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-np.pi, np.pi, size=(n, 2))
    return X, np.sin(X[:, 0]) * np.cos(X[:, 1]) + rng.normal(0, 0.1, n)


def _steps(seed, n=3000):
    """A rough target: a 2-D checkerboard of steps, jumps of 1, noise 0.1."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 2))
    cells = np.floor(4 * X[:, 0]) + np.floor(4 * X[:, 1])
    return X, np.mod(cells, 2) + 0.5 * np.floor(3 * X[:, 0]) + rng.normal(0, 0.1, n)


def _multi_output(seed, n=2000):
    """Three smooth targets of very different scales from six features."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 6))
    y = np.column_stack(
        [
            np.sin(np.pi * X[:, 0] * X[:, 1]),
            20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3],
            1000 * X[:, 4] * X[:, 5] + 300,
        ]
    )
    return X, y + rng.normal(0, 0.05, y.shape) * y.std(axis=0)


def _checker(seed, n=2000):
    """Two classes on a 3x3 checkerboard in two dimensions."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 2))
    return X, (np.floor(3 * X[:, 0]) + np.floor(3 * X[:, 1])).astype(int) % 2


def _xy(loader):
    return lambda seed: loader(return_X_y=True)


SMALL = 4  # seed factor of the datasets with fewer than 600 rows


DATASETS = {
    # regression
    "diabetes": Dataset(
        "regression", _xy(load_diabetes), "442x10, y 152±77", seed_factor=SMALL
    ),
    "friedman1": Dataset(
        "regression",
        lambda s: make_friedman1(2000, noise=1.0, random_state=s),
        "2000x10, y 14±5",
    ),
    "friedman2": Dataset(
        "regression",
        lambda s: make_friedman2(2000, noise=20.0, random_state=s),
        "2000x4, y 500±390",
    ),
    "friedman3": Dataset(
        "regression",
        lambda s: make_friedman3(2000, noise=0.1, random_state=s),
        "2000x4, y 1.3±0.3",
    ),
    "regression": Dataset(
        "regression",
        lambda s: make_regression(3000, 20, noise=10.0, random_state=s),
        "3000x20, linear, y 0±160",
    ),
    "sincos": Dataset("regression", _sincos, "3000x2, sin(x1)cos(x2), y 0±0.5"),
    "steps": Dataset("regression", _steps, "3000x2, rough: steps of 0.5-1"),
    "friedman1_wide": Dataset(
        "regression",
        lambda s: make_friedman1(2000, n_features=200, noise=1.0, random_state=s),
        "2000x200, 5 informative",
    ),
    "multi_output": Dataset("regression", _multi_output, "2000x6, 3 targets"),
    "friedman1_20k": Dataset(
        "regression",
        lambda s: make_friedman1(20000, noise=1.0, random_state=s),
        "20000x10",
        large=True,
    ),
    # classification
    "iris": Dataset(
        "classification", _xy(load_iris), "150x4, 3 classes", seed_factor=SMALL
    ),
    "wine": Dataset(
        "classification", _xy(load_wine), "178x13, 3 classes", seed_factor=SMALL
    ),
    "breast_cancer": Dataset(
        "classification",
        _xy(load_breast_cancer),
        "569x30, 2 classes",
        seed_factor=SMALL,
    ),
    "digits": Dataset("classification", _xy(load_digits), "1797x64, 10 classes"),
    "moons": Dataset(
        "classification",
        lambda s: make_moons(1000, noise=0.3, random_state=s),
        "1000x2, 2 classes",
    ),
    "checker": Dataset("classification", _checker, "2000x2, rough, 2 classes"),
    "classification": Dataset(
        "classification",
        lambda s: make_classification(
            5000, 20, n_informative=10, n_classes=4, random_state=s
        ),
        "5000x20, 4 classes",
    ),
    "multilabel": Dataset(
        "classification",
        lambda s: make_multilabel_classification(1000, 20, n_classes=5, random_state=s),
        "1000x20, 5 labels",
    ),
    "classification_20k": Dataset(
        "classification",
        lambda s: make_classification(
            20000, 40, n_informative=20, n_classes=5, random_state=s
        ),
        "20000x40, 5 classes",
        large=True,
    ),
}


# ---------------------------------------------------------------- models
def parse_settings(text):
    """``"a=1,b=x"`` as a tuple of ``(key, value)``; values are literals or strings."""
    settings = []
    for item in filter(None, text.split(",")):
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {text!r}: {item!r} is not key=value")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        settings.append((key.strip(), value))
    return tuple(settings)


def sknnlite_model(task, budget, seed, settings=(), activation="relu"):
    """NNRegressor or NNClassifier for ``budget``, with candidate ``settings``."""
    estimator = NNRegressor if task == "regression" else NNClassifier
    layer = ACTIVATIONS[activation]
    if budget == "default":
        model = estimator(random_state=seed)
        if activation != "relu":
            model.set_params(layers=[Dense(100), layer(), Dense()])
    else:
        layers = []
        for units in HIDDEN:
            layers += [Dense(units), layer()]
        layers.append(Dense())
        model = estimator(layers, max_iter=int(budget), random_state=seed)
    return _apply_settings(model, settings)


def _apply_settings(model, settings):
    """Set ``settings``; ``dense__``/``hidden__``/``output__`` go to Dense layers.

    ``activation=<name>`` replaces every ``ReLU`` by ``sknnlite.<name>()``
    (sknnlite only: the MLP columns keep theirs).
    """
    if not settings:
        return model
    settings = dict(settings)
    replacement = settings.pop("activation", None)
    layers = model.layers if model.layers is not None else sknnlite_default_layers()
    layers = [
        getattr(sknnlite, replacement)()
        if replacement and isinstance(layer, ReLU)
        else clone(layer)
        for layer in layers
    ]
    dense = [layer for layer in layers if isinstance(layer, Dense)]
    plain = {}
    for key, value in settings.items():
        group, _, name = key.partition("__")
        groups = {"dense": dense, "hidden": dense[:-1], "output": dense[-1:]}
        if group in groups:
            for layer in groups[group]:
                layer.set_params(**{name: value})
        else:
            plain[key] = value
    model.set_params(layers=layers)
    return model.set_params(**plain)


def sknnlite_default_layers():
    """The stack ``layers=None`` stands for (private in sknnlite)."""
    from sknnlite._base import default_layers

    return default_layers()


def mlp_model(task, budget, seed, standardise_y=False, activation="relu"):
    """MLPRegressor/MLPClassifier for ``budget``; optionally on a standardised y."""
    estimator = MLPRegressor if task == "regression" else MLPClassifier
    model = estimator(activation=activation, random_state=seed)
    if budget != "default":
        model.set_params(hidden_layer_sizes=HIDDEN, max_iter=int(budget))
    return model, standardise_y


def build_pipeline(model, standardise_y=False):
    """``StandardScaler`` then the model, and a target scaler when asked."""
    pipeline = make_pipeline(StandardScaler(), model)
    if standardise_y:
        return TransformedTargetRegressor(pipeline, transformer=StandardScaler())
    return pipeline


# ----------------------------------------------------------- evaluation
def split(dataset, seed):
    """The 75/25 split of ``dataset`` for ``seed`` (stratified for classes)."""
    X, y = dataset.make(seed)
    stratify = y if dataset.task == "classification" and np.ndim(y) == 1 else None
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=stratify)


def fit_and_score(model, standardise_y, data):
    """Holdout score, seconds and epochs of one fit."""
    X_train, X_test, y_train, y_test = data
    pipeline = build_pipeline(model, standardise_y)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    fitted = pipeline.regressor_ if standardise_y else pipeline
    return {
        "score": float(pipeline.score(X_test, y_test)),
        "seconds": seconds,
        "n_iter": int(fitted[-1].n_iter_),
    }


def sknnlite_fingerprint():
    """Hash of sknnlite's code: a change invalidates cached scores.

    Docstrings and comments are left out, so editing documentation does not.
    """
    digest = hashlib.sha256()
    package = pathlib.Path(sknnlite.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body[0] = ast.Pass()
        digest.update(path.name.encode() + ast.dump(tree).encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Column:
    """One model of the table: who, with what settings."""

    label: str
    library: str  # "sknnlite", "mlp" or "mlp_std"
    settings: tuple = ()

    def make(self, task, budget, seed, activation):
        if self.library == "sknnlite":
            model = sknnlite_model(task, budget, seed, self.settings, activation)
            return model, False
        return mlp_model(task, budget, seed, self.library == "mlp_std", activation)

    def applies_to(self, task):
        return self.library != "mlp_std" or task == "regression"


class Cache:
    """Fit results in JSON files: read from every file, written to one.

    Every ``*.json`` in the directory is read (again on a miss, so that runs
    in parallel share results); each fit is merged into ``path`` at once.
    Give parallel runs different files (``--cache``): a file has one writer.
    """

    def __init__(self, path, enabled):
        self.path, self.enabled = path, enabled
        self.entries = {}
        self.fingerprints = {
            "sknnlite": sknnlite_fingerprint(),
            "mlp": f"sklearn-{sklearn.__version__}",
        }
        self._reload()

    def _reload(self):
        if self.enabled:
            for path in sorted(self.path.parent.glob("*.json")):
                self.entries.update(json.loads(path.read_text()))

    def key(self, column, dataset, budget, seed, activation):
        library = "sknnlite" if column.library == "sknnlite" else "mlp"
        settings = ",".join(f"{k}={v!r}" for k, v in column.settings)
        if activation != "relu":
            budget = f"{budget}-{activation}"
        return "|".join(
            [column.library, settings, dataset, budget, str(seed),
             f"data{DATA_VERSION}", self.fingerprints[library]]
        )  # fmt: skip

    def get(self, key):
        if key not in self.entries:
            self._reload()
        return self.entries.get(key) if self.enabled else None

    def put(self, key, result):
        self.entries[key] = result
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            own = json.loads(self.path.read_text()) if self.path.exists() else {}
            own[key] = result
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(own, indent=0, sort_keys=True))
            os.replace(tmp, self.path)


def run(datasets, budgets, n_seeds, columns, cache, activation, progress=True):
    """Results ``{(dataset, budget, column label): [result per seed]}``."""
    results = {}
    for name in datasets:
        dataset = DATASETS[name]
        for seed in range(n_seeds * dataset.seed_factor):
            data = None
            for budget in budgets:
                for column in columns:
                    if not column.applies_to(dataset.task):
                        continue
                    key = cache.key(column, name, budget, seed, activation)
                    result = cache.get(key)
                    if result is None:
                        data = split(dataset, seed) if data is None else data
                        model, std_y = column.make(
                            dataset.task, budget, seed, activation
                        )
                        result = fit_and_score(model, std_y, data)
                        cache.put(key, result)
                        if progress:
                            print(
                                f"  {name} {budget} seed {seed} {column.label}: "
                                f"{result['score']:.4f} ({result['seconds']:.1f} s)",
                                flush=True,
                            )
                    results.setdefault((name, budget, column.label), []).append(result)
    return results


# -------------------------------------------------------------- report
def mean_score(results, key):
    return statistics.fmean(r["score"] for r in results[key])


def paired_difference(results, key, reference):
    """Mean and standard error over seeds of ``key`` minus ``reference``."""
    diffs = [
        a["score"] - b["score"]
        for a, b in zip(results[key], results[reference], strict=True)
    ]
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, math.nan
    return mean, statistics.stdev(diffs) / math.sqrt(len(diffs))


def fair_label(task):
    return "MLP std-y" if task == "regression" else "MLP"


def table(results, datasets, budgets, columns, show_iters=False):
    """Markdown table, one row per dataset and budget; returns lines and diffs."""
    ours = [c for c in columns if c.library == "sknnlite"]
    header = ["dataset", "budget", *(c.label for c in columns)]
    header += [f"{c.label} - fair" for c in ours]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    diffs = {c.label: [] for c in ours}
    for name in datasets:
        task = DATASETS[name].task
        for budget in budgets:
            cells = [name, budget]
            for column in columns:
                key = (name, budget, column.label)
                if key not in results:
                    cells.append("–")
                    continue
                cell = f"{mean_score(results, key):.3f}"
                if show_iters:
                    iters = statistics.fmean(r["n_iter"] for r in results[key])
                    cell += f" ({iters:.0f} ep)"
                cells.append(cell)
            for column in ours:
                mean, se = paired_difference(
                    results,
                    (name, budget, column.label),
                    (name, budget, fair_label(task)),
                )
                diffs[column.label].append((mean, se, name, budget))
                cells.append(f"{mean:+.3f} ± {se:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines, diffs


def compact_table(results, datasets, budgets, column):
    """One row per dataset: ``column``'s score / the fair peer's, per budget."""
    names = {"default": "defaults"}
    header = ["dataset", "data", *(names.get(b, f"{b} epochs") for b in budgets)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in datasets:
        dataset = DATASETS[name]
        cells = [name, dataset.note]
        for budget in budgets:
            ours = mean_score(results, (name, budget, column.label))
            fair = mean_score(results, (name, budget, fair_label(dataset.task)))
            cells.append(f"{ours:.3f} / {fair:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary(diffs, threshold=-0.005, shown=10):
    """Worst and mean difference per sknnlite column, and the rows behind.

    A row is "clearly" behind when it is below ``threshold`` by more than two
    standard errors of its difference over seeds.
    """
    lines = []
    for label, rows in diffs.items():
        worst = min(rows)
        behind = sorted(row for row in rows if row[0] < threshold)
        clearly = [row for row in behind if row[0] + 2 * row[1] < threshold]
        names = [f"{n} {b} ({m:+.3f} ± {se:.3f})" for m, se, n, b in behind]
        if len(names) > shown:
            names = names[:shown] + [f"{len(names) - shown} more"]
        lines.append(
            f"{label}: worst {worst[0]:+.4f} ({worst[2]}, {worst[3]}), mean "
            f"{statistics.fmean(m for m, *_ in rows):+.4f} over {len(rows)} rows; "
            f"{len(behind)} below {threshold} ({len(clearly)} by more than 2 "
            f"standard errors): {', '.join(names) or 'none'}"
        )
    return lines


# ----------------------------------------------------------------- main
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds, budgets 10 and 30, no large datasets",
    )
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS))
    parser.add_argument("--budgets", nargs="+", choices=BUDGETS)
    parser.add_argument("--seeds", type=int, help="number of seeds (default 5)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="a candidate column of sknnlite settings (repeatable)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="leave out the sknnlite column with the current defaults",
    )
    parser.add_argument(
        "--activation",
        choices=sorted(ACTIVATIONS),
        default="relu",
        help="hidden activation of both libraries (MLP's names)",
    )
    parser.add_argument("--no-cache", action="store_true", help="refit everything")
    parser.add_argument(
        "--cache",
        default=CACHE.name,
        metavar="NAME.json",
        help="file under benchmarks/results/ to write (all files there are read)",
    )
    parser.add_argument(
        "--iters", action="store_true", help="show the mean epochs run per cell"
    )
    parser.add_argument("--quiet", action="store_true", help="no line per fit")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="one row per dataset: first column's score / fair peer's, per budget",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    datasets = args.datasets or [
        name for name, d in DATASETS.items() if not (args.quick and d.large)
    ]
    budgets = args.budgets or (["10", "30"] if args.quick else list(BUDGETS))
    n_seeds = args.seeds or (3 if args.quick else 5)
    columns = [] if args.no_baseline else [Column("sknnlite", "sknnlite")]
    for text in args.set:
        label, colon, rest = text.partition(":")
        if not colon or "=" in label:
            label, rest = f"sknnlite[{text}]", text
        columns.append(Column(label, "sknnlite", parse_settings(rest)))
    columns += [Column("MLP", "mlp"), Column("MLP std-y", "mlp_std")]
    cache = Cache(CACHE.with_name(args.cache), enabled=not args.no_cache)
    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        results = run(
            datasets, budgets, n_seeds, columns, cache, args.activation, not args.quiet
        )
    print(
        f"\nsknnlite {sknnlite.__version__} ({cache.fingerprints['sknnlite']}), "
        f"scikit-learn {sklearn.__version__}; mean holdout score over "
        f"{n_seeds} seeds ({n_seeds * SMALL} for sets under 600 rows); "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    lines, diffs = table(results, datasets, budgets, columns, args.iters)
    if args.compact:
        lines = compact_table(results, datasets, budgets, columns[0])
    print("\n".join(lines))
    print()
    print("\n".join(summary(diffs)))


if __name__ == "__main__":
    main()
