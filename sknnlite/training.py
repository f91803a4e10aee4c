"""The training loop: epochs of mini-batch steps and the stopping rule.

Nothing here knows about scikit-learn. An epoch reads like a paragraph:
shuffle, then for each batch gather, forward, loss, backward, penalty, step.
"""

import math

import numpy as np
from scipy import sparse

__all__ = ["BatchGatherer", "Trainer", "ImprovementTracker"]


class BatchGatherer:
    """Copies shuffled rows of ``X``, ``y`` and weights into reused buffers.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
    batch_size : int
    """

    def __init__(self, X, y, sample_weight, batch_size):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size = batch_size
        self._x_buf = (
            None
            if sparse.issparse(X)
            else np.empty((batch_size, X.shape[1]), dtype=X.dtype)
        )
        self._y_buf = np.empty((batch_size, y.shape[1]), dtype=y.dtype)
        self._w_buf = (
            None
            if sample_weight is None
            else np.empty(batch_size, dtype=sample_weight.dtype)
        )

    def batches(self, order):
        """Yield ``(X_batch, y_batch, weight_batch)`` following ``order``.

        ``order`` is a permutation of the rows, or ``None`` for row order.
        """
        n_samples = self.y.shape[0]
        for start in range(0, n_samples, self.batch_size):
            stop = min(start + self.batch_size, n_samples)
            if order is None:
                yield self._slice(slice(start, stop))
            else:
                yield self._take(order[start:stop])

    def _slice(self, rows):
        """Contiguous batch: views, no copy."""
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return self.X[rows], self.y[rows], weight

    def _take(self, index):
        """Shuffled batch gathered into the preallocated buffers."""
        n = index.shape[0]
        if self._x_buf is None:
            x = self.X[index]
        else:
            x = self.X.take(index, axis=0, out=self._x_buf[:n])
        y = self.y.take(index, axis=0, out=self._y_buf[:n])
        weight = None
        if self._w_buf is not None:
            weight = self.sample_weight.take(index, out=self._w_buf[:n])
        return x, y, weight


class Trainer:
    """Updates a network from batches: forward, loss, backward, penalty, step.

    Parameters
    ----------
    network : Network
        Built network, trained in place.
    loss : Loss
        Loss to minimise.
    optimizer : Optimizer
        Initialised optimizer for ``network.coef``.
    learning_rate : float
        Step size passed to the optimizer.
    alpha : float
        L2 penalty strength on the parameters in ``network.coef[:n_decay]``.

    Attributes
    ----------
    initial_loss : float or None
        Loss of the first batch, before any update: the reference for
        :meth:`diverged`.
    """

    def __init__(self, network, loss, optimizer, learning_rate, alpha):
        self.network = network
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.initial_loss = None

    def diverged(self, loss, factor=1e4):
        """True if ``loss`` is non-finite or ``factor`` times the initial loss.

        The reference is the loss of the first batch, before any update: a
        learning rate far too large can make the loss jump by 20 orders of
        magnitude and then slowly fall, which only this comparison catches.
        """
        if not math.isfinite(loss):
            return True
        return self.initial_loss is not None and loss > factor * max(
            self.initial_loss, 1e-12
        )

    def run_epoch(self, gatherer, order):
        """Train one pass over the batches in ``order`` (``None``: row order).

        Returns
        -------
        loss : float
            Mean batch loss, weighted by batch weight.
        """
        total_loss = total_weight = 0.0
        for batch in gatherer.batches(order):
            value, weight = self.step(batch)
            if not math.isfinite(value):
                return value  # diverged: stop at once, the caller reports it
            total_loss += value * weight
            total_weight += weight
        return total_loss / total_weight if total_weight else 0.0

    def step(self, batch):
        """One gradient step on ``(x, y, weight)``; returns (loss, batch weight).

        The L2 penalty ``alpha / 2 * ||W||^2`` is divided by the batch weight,
        like the data loss, so their balance does not depend on batch size.
        """
        value, batch_weight = self.loss_and_gradient(batch)
        if batch_weight > 0:
            network = self.network
            self.optimizer.step(network.coef, network.grad, self.learning_rate)
        return value, batch_weight

    def loss_and_gradient(self, batch):
        """Loss (L2 penalty included) on ``batch``; fills ``network.grad``.

        Returns ``(loss, batch weight)``; a batch of zero weight is skipped
        and gives ``(0.0, 0.0)``.
        """
        x, y, weight = batch
        batch_weight = float(y.shape[0] if weight is None else weight.sum())
        if batch_weight <= 0:
            return 0.0, 0.0
        network = self.network
        # A trainer lives for one fit or partial_fit: check the layer
        # contract on its first batch.
        check = self.initial_loss is None
        output = network.forward(x, training=True, sample_weight=weight, check=check)
        value, grad_output = self.loss.value_and_gradient(y, output, weight)
        if self.initial_loss is None:
            self.initial_loss = value
        network.backward(grad_output, check=check)
        if self.alpha:
            value += self._add_l2_penalty(self.alpha / batch_weight)
        return value, batch_weight

    def _add_l2_penalty(self, strength):
        """Add ``strength * W`` to the penalised gradients; return the penalty."""
        network = self.network
        decayed = network.coef[: network.n_decay]
        buffer = self.__dict__.get("_penalty_grad")
        if buffer is None or buffer.shape != decayed.shape:
            buffer = self._penalty_grad = np.empty_like(decayed)
        np.multiply(decayed, network.dtype.type(strength), out=buffer)
        network.grad[: network.n_decay] += buffer
        return 0.5 * strength * float(np.dot(decayed, decayed))


class ImprovementTracker:
    """Counts epochs without improvement of the loss or validation score.

    Parameters
    ----------
    tol : float
        Minimum improvement that resets the counter.
    use_score : bool
        Track a validation score (higher is better) instead of the
        training loss (lower is better).
    """

    def __init__(self, tol, use_score):
        self.tol = tol
        self.use_score = use_score
        self.best = -np.inf if use_score else np.inf
        self.no_improvement_count = 0

    def update(self, value):
        """Record one epoch's value; returns True if it is the best so far."""
        gain = value - self.best if self.use_score else self.best - value
        if gain < self.tol:
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if gain > 0:
            self.best = value
            return True
        return False
