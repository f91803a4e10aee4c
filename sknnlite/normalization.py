"""Batch normalisation: per-feature standardisation with learned scale and shift."""

from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import Interval

from .layers import Layer

__all__ = ["BatchNorm"]


class BatchNorm(Layer):
    """Normalise each feature by batch statistics, then scale and shift.

    Parameters
    ----------
    momentum : float, default=0.1
        Weight of each training batch in the running statistics:
        ``running = (1 - momentum) * running + momentum * batch``.
    epsilon : float, default=1e-5
        Added to the variance before the square root.

    Attributes
    ----------
    params : dict
        ``"gamma"`` (scale, starts at 1) and ``"beta"`` (shift, starts at 0),
        each of shape ``(n_features,)``, trained by the optimizer and not
        penalised by ``alpha``.
    running_mean_ : ndarray of shape (n_features,)
        Running mean of the training batches, used at predict time.
    running_var_ : ndarray of shape (n_features,)
        Running (biased) variance of the training batches.

    Notes
    -----
    While training, with sample weights :math:`w_i` (1 by default) and
    :math:`W = \\sum_i w_i` over the batch:

    .. math::
        \\mu = \\frac{1}{W}\\sum_i w_i x_i, \\quad
        \\sigma^2 = \\frac{1}{W}\\sum_i w_i (x_i - \\mu)^2, \\quad
        \\hat x_i = \\frac{x_i - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}, \\quad
        y_i = \\gamma \\hat x_i + \\beta

    so a weight of 2 acts as a repeated row. At predict time :math:`\\mu`
    and :math:`\\sigma^2` are the running statistics. With the incoming
    gradient :math:`G` and :math:`D = \\gamma G`, the gradients are
    :math:`\\partial\\gamma = \\sum_i G_i \\hat x_i`,
    :math:`\\partial\\beta = \\sum_i G_i` and

    .. math::
        \\partial x_i = \\frac{1}{\\sqrt{\\sigma^2 + \\epsilon}}
        \\Big(D_i - \\frac{w_i}{W}\\big(\\textstyle\\sum_k D_k
        + \\hat x_i \\sum_k D_k \\hat x_k\\big)\\Big).

    The running statistics are layer state, not parameters: they are
    pickled with the layer, kept by ``warm_start`` and ``partial_fit``, and
    saved and restored with the weights of the best epoch by early
    stopping.

    A batch of one row has no variance (PyTorch refuses it), so
    ``min_batch_rows = 2``: the training loop never forms a smaller batch
    and refuses a ``batch_size`` or a ``partial_fit`` chunk below it. A
    batch whose weights leave fewer than 2 rows of positive weight, or whose
    statistics are not finite, still trains ``gamma`` and ``beta`` but does
    not move the running statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import BatchNorm
    >>> layer = BatchNorm()
    >>> layer.build(2, np.random.default_rng(0), np.dtype("float64"))
    2
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
    >>> print(np.round(layer.forward(x, training=True), 3))
    [[-1. -1.]
     [ 1.  1.]]
    >>> layer.running_mean_  # moved 10 % of the way to the batch mean
    array([0.2, 2. ])
    """

    _parameter_constraints = {
        "momentum": [Interval(Real, 0, 1, closed="right")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
    }

    state_attributes = ("running_mean_", "running_var_")
    uses_sample_weight = True
    min_batch_rows = 2
    uses_workspace = True

    def __init__(self, momentum=0.1, epsilon=1e-5):
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, n_inputs, rng, dtype):
        self.add_param("gamma", np.ones(n_inputs, dtype=dtype))
        self.add_param("beta", np.zeros(n_inputs, dtype=dtype))
        self.running_mean_ = np.zeros(n_inputs, dtype=dtype)
        self.running_var_ = np.ones(n_inputs, dtype=dtype)
        return n_inputs

    def forward(self, x, training=False, sample_weight=None, workspace=None):
        x = x.toarray() if sparse.issparse(x) else x
        if training:
            mean, var = _weighted_moments(x, sample_weight)
            self._update_running(mean, var, sample_weight, x.shape[0])
        else:
            mean, var = self.running_mean_, self.running_var_
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.epsilon))
        buffers = self._buffers(training, workspace)
        if not training and buffers.input_is_scratch:
            x_hat = x  # an array of the network's call: write over it
        else:
            x_hat = buffers.scratch("_x_hat", x.shape, x.dtype)
        np.subtract(x, mean, out=x_hat)
        x_hat *= inv_std
        if training:  # backward needs x_hat: scale and shift into another buffer
            self._x_hat, self._inv_std, self._weight = x_hat, inv_std, sample_weight
            out = np.multiply(
                x_hat, self.params["gamma"], out=self.scratch("_out", x.shape, x.dtype)
            )
        else:
            out = x_hat
            out *= self.params["gamma"]
        out += self.params["beta"]
        return out

    def backward(self, grad_out):
        x_hat, gamma = self._x_hat, self.params["gamma"]
        np.einsum("ij,ij->j", grad_out, x_hat, out=self.grads["gamma"])
        np.sum(grad_out, axis=0, out=self.grads["beta"])
        if self.skip_input_grad:
            return None
        sum_d = gamma * self.grads["beta"]
        sum_d_x_hat = gamma * self.grads["gamma"]
        grad_out *= gamma
        correction = x_hat * sum_d_x_hat
        correction += sum_d
        weight = self._weight
        if weight is None:
            correction *= 1 / x_hat.dtype.type(x_hat.shape[0])
        else:
            correction *= (weight / weight.sum())[:, None]
        grad_out -= correction
        grad_out *= self._inv_std
        return grad_out

    def _update_running(self, mean, var, sample_weight, n_rows):
        """Move the running statistics towards this batch's, if they estimate anything.

        Skipped for fewer than ``min_batch_rows`` rows of positive weight
        (the variance of one row is 0, not an estimate) and for non-finite
        statistics: either would stay in the running statistics and spoil
        every later prediction.
        """
        if sample_weight is not None:
            n_rows = np.count_nonzero(sample_weight > 0)
        if n_rows < self.min_batch_rows or not (
            np.isfinite(mean).all() and np.isfinite(var).all()
        ):
            return
        keep = self.running_mean_.dtype.type(1 - self.momentum)
        take = self.running_mean_.dtype.type(self.momentum)
        for running, batch in ((self.running_mean_, mean), (self.running_var_, var)):
            # One write per element, so a concurrent predict never reads a
            # half-updated value (``running * keep`` alone).
            updated = running * keep
            updated += take * batch
            np.copyto(running, updated)


def _weighted_moments(x, sample_weight):
    """Per-column (weighted) mean and biased variance of ``x``."""
    if sample_weight is None:
        mean = x.mean(axis=0)
        return mean, np.mean(np.square(x - mean), axis=0)
    share = sample_weight / sample_weight.sum()
    mean = share @ x
    return mean, share @ np.square(x - mean)
