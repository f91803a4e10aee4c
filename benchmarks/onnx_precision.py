"""How closely onnxruntime reproduces predict: sknnlite's converter next to MLP's.

For each model type and dtype, the same data and the same hidden layers (two
ReLU layers of 32 and 16 units) are trained with scikit-learn's MLP estimator
and with sknnlite's, both are converted with ``skl2onnx.to_onnx`` and run in
onnxruntime, and the largest difference from ``predict`` (regressors,
relative to the largest prediction) or ``predict_proba`` (classifiers,
absolute) is printed. A last column converts an sknnlite network that uses
every built-in layer. Needs the ``onnx`` extra. Run from the repository
root::

    python benchmarks/onnx_precision.py
"""

import warnings

import numpy as np
import onnxruntime
import skl2onnx
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

import sknnlite.onnx  # noqa: F401  (registers sknnlite's converters)
from sknnlite import (
    ELU,
    GELU,
    SELU,
    BatchNorm,
    Dense,
    Dropout,
    LeakyReLU,
    Mish,
    NNClassifier,
    NNRegressor,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Softsign,
    Tanh,
)


def every_layer():
    """Two hidden layers that between them use every built-in layer."""
    return [
        *[Dense(32), ReLU(), LeakyReLU(), BatchNorm(), Sigmoid(), Tanh()],
        *[Softplus(), ELU(), SELU(), GELU(), SiLU(), Dropout(0.1), Mish()],
        *[Dense(16), Softsign(), Dense()],
    ]


def onnx_outputs(model, X, options=None):
    """Outputs of ``model`` converted by skl2onnx and run in onnxruntime."""
    onx = skl2onnx.to_onnx(model, X[:1], options=options)
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def regression_error(model, X):
    """Largest |onnxruntime - predict| over the largest |predict|."""
    expected = model.predict(X)
    (output,) = onnx_outputs(model, X)
    return np.max(np.abs(output.reshape(expected.shape) - expected)) / np.max(
        np.abs(expected)
    )


def classification_error(model, X):
    """Largest |onnxruntime - predict_proba|; also checks the labels agree."""
    labels, proba = onnx_outputs(model, X, options={"zipmap": False})
    assert (labels == model.predict(X)).all()
    return np.max(np.abs(proba - model.predict_proba(X)))


def measure(dtype, n_samples=1000, max_iter=100):
    """Errors per model type for ``dtype``: (name, MLP, sknnlite, every layer)."""
    X, y = make_regression(n_samples, 20, noise=5.0, random_state=0)
    X = StandardScaler().fit_transform(X).astype(dtype)
    settings = dict(max_iter=max_iter, random_state=0)
    rows = []
    regressors = [
        MLPRegressor(hidden_layer_sizes=(32, 16), **settings),
        NNRegressor([Dense(32), ReLU(), Dense(16), ReLU(), Dense()], **settings),
        NNRegressor(every_layer(), **settings),
    ]
    errors = [regression_error(model.fit(X, y), X) for model in regressors]
    rows.append(("regressor predict (relative)", *errors))
    for n_classes in (2, 4):
        X, y = make_classification(
            n_samples, 20, n_classes=n_classes, n_informative=8, random_state=0
        )
        X = StandardScaler().fit_transform(X).astype(dtype)
        classifiers = [
            MLPClassifier(hidden_layer_sizes=(32, 16), **settings),
            NNClassifier([Dense(32), ReLU(), Dense(16), ReLU(), Dense()], **settings),
            NNClassifier(every_layer(), **settings),
        ]
        errors = [classification_error(m.fit(X, y), X) for m in classifiers]
        rows.append((f"{n_classes}-class predict_proba (absolute)", *errors))
    return rows


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("| dtype | output | MLP | sknnlite, same layers | sknnlite, every layer |")
    print("|---|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        for name, mlp, ours, every in measure(dtype):
            row = f"| {np.dtype(dtype).name} | {name} | {mlp:.1e} | {ours:.1e} | "
            print(row + f"{every:.1e} |")


if __name__ == "__main__":
    main()
