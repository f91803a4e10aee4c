"""Numerical gradient checks for layers, losses and whole networks.

Use these to test a layer you wrote yourself: they compare the gradients
your ``backward`` fills in with central finite differences, in float64, and
tell you which array is wrong and by how much.
"""

from dataclasses import dataclass

import numpy as np

from .layers import build_layer

__all__ = [
    "GradientReport",
    "check_layer_gradients",
    "check_loss_gradient",
    "check_network_gradients",
]


@dataclass
class GradientReport:
    """Relative errors of analytical against numerical gradients.

    Attributes
    ----------
    errors : dict of str to float
        ``||analytic - numeric|| / (||analytic|| + ||numeric||)`` per array.
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


def _relative_error(analytic, numeric):
    """Relative distance between two gradient arrays (0 when both are 0)."""
    difference = np.linalg.norm(np.ravel(analytic - numeric))
    size = np.linalg.norm(np.ravel(analytic)) + np.linalg.norm(np.ravel(numeric))
    return float(difference / size) if size > 0 else float(difference)


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


def check_layer_gradients(
    layer, n_inputs=4, n_samples=5, random_state=0, eps=1e-6, tolerance=1e-6, x=None
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
    projection = rng.normal(size=np.shape(layer.forward(x, training=True)))

    def objective():
        return float(np.sum(projection * layer.forward(x, training=True)))

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

    def objective():
        output = network.forward(X, training=True)
        value = loss.value_and_gradient(y, output, sample_weight)[0]
        return value + 0.5 * alpha / total * float(decay @ decay)

    output = network.forward(X, training=True)
    grad_output = loss.value_and_gradient(y, output, sample_weight)[1]
    network.backward(grad_output)
    analytic = network.grad.copy()
    analytic[: network.n_decay] += alpha / total * decay
    numeric = _numeric_gradient(objective, network.coef, eps)
    errors = {}
    for index, layer in enumerate(network.layers):
        for name, param in layer.params.items():
            where = _offset_in(network.coef, param)
            part = slice(where, where + param.size)
            key = f"layers[{index}].params[{name!r}]"
            errors[key] = _relative_error(analytic[part], numeric[part])
    return GradientReport(errors, tolerance)


def _offset_in(buffer, view):
    """Position of ``view``'s first element inside the 1-D ``buffer``."""
    start = view.__array_interface__["data"][0] - buffer.__array_interface__["data"][0]
    return start // buffer.itemsize
