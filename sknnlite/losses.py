"""Loss functions as objects with a value and a gradient.

A loss compares targets ``y`` with network outputs ``y_pred`` (both of shape
``(n_samples, n_outputs)``) and reduces to one number: the weighted mean
over samples of the per-sample loss, itself averaged over outputs. Sample
weights are normalised by their sum, so integer weights equal repeated rows
and zero weights equal dropped rows.
"""

import numpy as np

from ._config import Configurable

__all__ = ["Loss", "SquaredError", "LOSSES", "get_loss"]


class Loss(Configurable):
    """Base class: subclasses implement :meth:`value_and_gradient`."""

    def value(self, y, y_pred, sample_weight=None):
        """Return the loss as a Python float."""
        return self.value_and_gradient(y, y_pred, sample_weight)[0]

    def gradient(self, y, y_pred, sample_weight=None):
        """Return ``d loss / d y_pred``, shape ``(n_samples, n_outputs)``."""
        return self.value_and_gradient(y, y_pred, sample_weight)[1]

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        """Return the loss and its gradient with respect to ``y_pred``.

        Parameters
        ----------
        y : ndarray of shape (n_samples, n_outputs)
            Targets.
        y_pred : ndarray of shape (n_samples, n_outputs)
            Network outputs.
        sample_weight : ndarray of shape (n_samples,) or None
            Non-negative weights; ``None`` weighs every sample 1.

        Returns
        -------
        value : float
        gradient : ndarray of shape (n_samples, n_outputs)
        """
        raise NotImplementedError


def _normaliser(y_pred, sample_weight):
    """Total weight times the number of outputs, in the data's dtype."""
    total = y_pred.shape[0] if sample_weight is None else sample_weight.sum()
    return y_pred.dtype.type(total * y_pred.shape[1])


class SquaredError(Loss):
    """Half the mean squared error.

    Notes
    -----
    .. math:: L = \\frac{1}{2 W m} \\sum_i w_i \\sum_j (\\hat y_{ij} - y_{ij})^2

    with :math:`W = \\sum_i w_i` and :math:`m` outputs; the gradient is
    :math:`w_i (\\hat y_{ij} - y_{ij}) / (W m)`.
    """

    def value_and_gradient(self, y, y_pred, sample_weight=None):
        residual = y_pred - y
        scale = 1 / _normaliser(y_pred, sample_weight)
        weighted = (
            residual if sample_weight is None else (residual * sample_weight[:, None])
        )
        value = 0.5 * float(np.vdot(weighted, residual)) * float(scale)
        weighted *= scale
        return value, weighted


LOSSES = {"squared_error": SquaredError}


def get_loss(loss):
    """Return a loss object for a name in :data:`LOSSES` or a :class:`Loss`."""
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    if hasattr(loss, "value_and_gradient"):
        return loss
    raise ValueError(
        f"loss={loss!r} is not a known loss. Use one of {sorted(LOSSES)} or an "
        "object with a value_and_gradient(y, y_pred, sample_weight) method."
    )
