"""Numerical gradient checks for layers, losses and whole networks.

Use these to test a layer or loss you wrote yourself: they compare the
gradients your ``backward`` (or ``value_and_gradient``) computes with central
finite differences, in float64, and tell you which array is wrong and by how
much. :func:`check_estimator_gradients` checks a whole estimator's network
with its loss and L2 penalty on data you give.

Layers that draw random numbers while training (``Dropout``) are checked
with one fixed draw: every :class:`numpy.random.Generator` attribute of a
layer is rewound before each forward pass and left where it was at the end.
State that training updates (``BatchNorm``'s running statistics) is restored
too, so checking a fitted model does not change it.
"""

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from .layers import build_layer

__all__ = [
    "GradientReport",
    "check_layer_gradients",
    "check_loss_gradient",
    "check_network_gradients",
    "check_estimator_gradients",
]


@dataclass
class GradientReport:
    """Relative errors of analytical against numerical gradients.

    Attributes
    ----------
    errors : dict of str to float
        ``||analytic - numeric|| / (||analytic|| + ||numeric||)`` per array,
        or ``||analytic - numeric||`` when both norms sum to less than 1e-7
        (a parameter the loss does not depend on, such as the bias of a
        ``Dense`` followed by ``BatchNorm``).
    tolerance : float
        Largest acceptable relative error.
    """

    errors: dict
    tolerance: float

    @property
    def worst(self):
        """``(name, error)`` of the array with the largest error."""
        return max(self.errors.items(), key=lambda item: item[1])

    @property
    def ok(self):
        """True when every relative error is at most ``tolerance``."""
        return all(error <= self.tolerance for error in self.errors.values())

    def raise_if_wrong(self):
        """Raise ``AssertionError`` naming every array above the tolerance."""
        wrong = {k: v for k, v in self.errors.items() if not v <= self.tolerance}
        if wrong:
            details = ", ".join(f"{k}: {v:.2e}" for k, v in wrong.items())
            raise AssertionError(
                f"Gradient check failed (tolerance {self.tolerance:.0e}); relative "
                f"error per array: {details}"
            )
        return self

    def __str__(self):
        rows = [f"  {k:<24} {v:.2e}" for k, v in self.errors.items()]
        verdict = "ok" if self.ok else "WRONG"
        return f"Gradient check ({verdict}, tolerance {self.tolerance:.0e}):\n" + (
            "\n".join(rows)
        )


#: Below this gradient norm, errors are absolute: finite-difference noise
#: would dominate a relative error where the true gradient is 0 (such as
#: the bias of a Dense layer followed by BatchNorm).
_NEGLIGIBLE_NORM = 1e-7


def _relative_error(analytic, numeric):
    """Relative distance between two gradient arrays (absolute when both are ~0)."""
    difference = np.linalg.norm(np.ravel(analytic - numeric))
    size = np.linalg.norm(np.ravel(analytic)) + np.linalg.norm(np.ravel(numeric))
    return float(difference / size) if size > _NEGLIGIBLE_NORM else float(difference)


def _numeric_gradient(function, array, eps):
    """Central differences of scalar ``function()`` w.r.t. ``array`` (in place)."""
    gradient = np.zeros_like(array, dtype=np.float64)
    flat, flat_gradient = array.reshape(-1), gradient.reshape(-1)
    for index in range(flat.size):
        original = flat[index]
        flat[index] = original + eps
        upper = function()
        flat[index] = original - eps
        lower = function()
        flat[index] = original
        flat_gradient[index] = (upper - lower) / (2 * eps)
    return gradient


class _Rewinder:
    """Puts every random generator held by ``layers`` back where it was."""

    def __init__(self, layers):
        self.generators = [
            value
            for layer in layers
            for value in vars(layer).values()
            if isinstance(value, np.random.Generator)
        ]
        self.states = [g.bit_generator.state for g in self.generators]

    def __call__(self):
        for generator, state in zip(self.generators, self.states, strict=True):
            generator.bit_generator.state = state


def _train_forward(layer, x, sample_weight):
    """``layer.forward`` in training mode, with weights if the layer takes them."""
    if layer.uses_sample_weight:
        return layer.forward(x, training=True, sample_weight=sample_weight)
    return layer.forward(x, training=True)


def check_layer_gradients(
    layer,
    n_inputs=4,
    n_samples=5,
    random_state=0,
    eps=1e-6,
    tolerance=1e-6,
    x=None,
    sample_weight=None,
):
    """Compare a layer's ``backward`` with finite differences.

    The layer is built in float64, fed ``x`` (random if not given) and
    scored with ``sum(r * forward(x))`` for a fixed random ``r``; every
    parameter gradient and the input gradient are checked.

    Parameters
    ----------
    layer : Layer
        An unbuilt layer (it is built here, in place).
    n_inputs : int, default=4
        Input width when ``x`` is not given.
    n_samples : int, default=5
        Rows when ``x`` is not given.
    random_state : int, default=0
        Seed for the inputs, ``r`` and the layer's initialisation.
    eps : float, default=1e-6
        Finite-difference step.
    tolerance : float, default=1e-6
        Largest acceptable relative error.
    x : ndarray of shape (n_samples, n_inputs), default=None
        Input to check at. Random values are kept away from 0 so that kinks
        (ReLU) are not straddled.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights passed to layers with ``uses_sample_weight`` (``BatchNorm``).

    Returns
    -------
    report : GradientReport
        Errors for ``"input"`` and each parameter name; call
        ``report.raise_if_wrong()`` in a test.
    """
    rng = np.random.default_rng(random_state)
    if x is None:
        x = rng.uniform(0.1, 1.5, (n_samples, n_inputs))
        x *= rng.choice([-1.0, 1.0], size=x.shape)
    x = np.array(x, dtype=np.float64)
    build_layer(layer, x.shape[1], rng, np.float64)
    rewind = _Rewinder([layer])
    projection = rng.normal(size=np.shape(_train_forward(layer, x, sample_weight)))

    def objective():
        rewind()
        return float(np.sum(projection * _train_forward(layer, x, sample_weight)))

    objective()
    grad_input = layer.backward(projection.copy())
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    errors = {}
    for name, param in layer.params.items():
        numeric = _numeric_gradient(objective, param, eps)
        errors[f"params[{name!r}]"] = _relative_error(analytic[name], numeric)
    numeric_input = _numeric_gradient(objective, x, eps)
    errors["input"] = _relative_error(np.asarray(grad_input), numeric_input)
    return GradientReport(errors, tolerance)


def check_loss_gradient(loss, y, y_pred, sample_weight=None, eps=1e-6, tolerance=1e-6):
    """Compare ``loss.value_and_gradient`` with finite differences of its value.

    Parameters
    ----------
    loss : Loss
        The loss object.
    y, y_pred : ndarray of shape (n_samples, n_outputs)
        Targets and predictions to check at (float64).
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights.
    eps, tolerance : float
        Finite-difference step and largest acceptable relative error.

    Returns
    -------
    report : GradientReport
    """
    y_pred = np.array(y_pred, dtype=np.float64)
    _, analytic = loss.value_and_gradient(y, y_pred.copy(), sample_weight)

    def objective():
        return loss.value_and_gradient(y, y_pred.copy(), sample_weight)[0]

    numeric = _numeric_gradient(objective, y_pred, eps)
    return GradientReport({"y_pred": _relative_error(analytic, numeric)}, tolerance)


def check_network_gradients(
    network, loss, X, y, sample_weight=None, alpha=0.0, eps=1e-6, tolerance=1e-6
):
    """Check the gradient of a whole built network, penalty included.

    Parameters
    ----------
    network : Network
        A network built in float64.
    loss : Loss
        The loss.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,), default=None
    alpha : float, default=0.0
        L2 penalty strength, as in training (divided by the total weight).
    eps, tolerance : float
        Finite-difference step and largest acceptable relative error.

    Returns
    -------
    report : GradientReport
        One entry per parameter, named ``layers[i].params['W']``.
    """
    total = len(y) if sample_weight is None else float(np.sum(sample_weight))
    decay = network.coef[: network.n_decay]
    saved, rewind = network.snapshot(), _Rewinder(network.layers)

    def forward():
        rewind()
        return network.forward(X, training=True, sample_weight=sample_weight)

    def objective():
        value = loss.value_and_gradient(y, forward(), sample_weight)[0]
        return value + 0.5 * alpha / total * float(decay @ decay)

    grad_output = loss.value_and_gradient(y, forward(), sample_weight)[1]
    network.backward(grad_output)
    analytic = network.grad.copy()
    analytic[: network.n_decay] += alpha / total * decay
    numeric = _numeric_gradient(objective, network.coef, eps)
    rewind()
    network.restore(saved)
    errors = {}
    for index, layer in enumerate(network.layers):
        for name, param in layer.params.items():
            where = _offset_in(network.coef, param)
            part = slice(where, where + param.size)
            key = f"layers[{index}].params[{name!r}]"
            errors[key] = _relative_error(analytic[part], numeric[part])
    return GradientReport(errors, tolerance)


def check_estimator_gradients(
    estimator, X, y, sample_weight=None, eps=1e-6, tolerance=1e-6
):
    """Check every parameter gradient of an estimator's network on ``(X, y)``.

    The objective is the one training minimises on a single batch holding
    all of ``X``: the estimator's loss on its encoded targets (scaled as the
    loss's ``target_scaling`` asks) plus its L2 penalty ``alpha``. The estimator is
    never changed: a fitted one is copied, an unfitted one is cloned and
    built (not trained) on ``X`` and ``y``.

    Parameters
    ----------
    estimator : NNRegressor or another sknnlite estimator
        Fitted (in float64) or unfitted.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data to check at; keep it small (a few rows), since every parameter
        costs two forward passes.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    eps, tolerance : float
        Finite-difference step and largest acceptable relative error.

    Returns
    -------
    report : GradientReport
        One entry per parameter array, named ``layers[i].params['W']``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import BatchNorm, Dense, NNRegressor, Tanh
    >>> from sknnlite.testing import check_estimator_gradients
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    >>> model = NNRegressor([Dense(4), BatchNorm(), Tanh(), Dense()])
    >>> check_estimator_gradients(model, X, y).ok
    True
    """
    fitted = hasattr(estimator, "network_")
    model = copy.deepcopy(estimator) if fitted else clone(estimator)
    X, y, sample_weight = model._validate_training_data(
        X, y, sample_weight, reset=not fitted
    )
    X = X.astype(np.float64)
    sample_weight = None if sample_weight is None else sample_weight.astype(float)
    targets = model._encode_targets(y, sample_weight, reset=not fitted)
    targets = targets.astype(np.float64)
    if not fitted:
        model._initialize(X, targets)
    if model.network_.dtype != np.float64:
        raise ValueError(
            f"The estimator was fitted in {model.network_.dtype}, too coarse for "
            "finite differences. Check it unfitted, or fit it on float64 data."
        )
    return check_network_gradients(
        model.network_,
        model.loss_function_,
        X,
        targets,
        sample_weight,
        alpha=model.alpha,
        eps=eps,
        tolerance=tolerance,
    )


def _offset_in(buffer, view):
    """Position of ``view``'s first element inside the 1-D ``buffer``."""
    start = view.__array_interface__["data"][0] - buffer.__array_interface__["data"][0]
    return start // buffer.itemsize
