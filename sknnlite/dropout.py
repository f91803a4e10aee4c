"""Dropout: randomly zeroes inputs while training, the identity at predict."""

from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import Interval

from ._hashing import keyed_uniform_bits
from .layers import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout: zero each input with probability ``rate`` while training.

    Parameters
    ----------
    rate : float, default=0.5
        Probability of zeroing an input, in ``[0, 1)``. ``0`` makes the
        layer the identity.

    Attributes
    ----------
    rng_ : numpy.random.Generator
        Source of the masks, derived in ``build`` from the network's
        generator (so from the estimator's ``random_state``). It is pickled
        with the layer, so a loaded, warm-started or ``partial_fit`` model
        continues the same sequence of masks.

    Notes
    -----
    While training, :math:`y = x \\odot m / (1 - p)` with :math:`p` the
    ``rate`` and each :math:`m_{ij}` an independent Bernoulli variable equal
    to 1 with probability :math:`1 - p`, so that :math:`E[y] = x`; at
    predict time :math:`y = x`. The input gradient is
    :math:`G \\odot m / (1 - p)`.

    Inside a network the mask of a row is a function of the training step
    and of that row's input features (a counter-based generator keyed by a
    quantised random projection of the row), not of its position in the
    batch. Identical rows therefore get identical masks, so an integer
    ``sample_weight`` means exactly the same as repeating the row, as it does
    for every other layer. Distinct rows get independent masks, and every
    step draws new ones. Called on its own, without row keys, the layer draws
    masks from ``rng_`` directly. The gradient checkers in
    :mod:`sknnlite.testing` rewind ``rng_`` before every forward, so a check
    sees one fixed mask.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, Dropout, NNRegressor, ReLU
    >>> layer = Dropout(0.5)
    >>> layer.build(4, np.random.default_rng(0), np.dtype("float64"))
    4
    >>> x = np.ones((2, 4))
    >>> print(layer.forward(x, training=True))  # zeroed or doubled
    [[0. 2. 0. 2.]
     [2. 2. 2. 0.]]
    >>> print(layer.forward(x))  # the identity at predict
    [[1. 1. 1. 1.]
     [1. 1. 1. 1.]]
    >>> NNRegressor([Dense(64), ReLU(), Dropout(0.2), Dense()])
    NNRegressor(layers=[Dense(64), ReLU(), Dropout(0.2), Dense()])
    """

    _parameter_constraints = {"rate": [Interval(Real, 0, 1, closed="left")]}

    uses_row_keys = True

    def __init__(self, rate=0.5):
        self.rate = rate

    def build(self, n_inputs, rng, dtype):
        self.rng_ = np.random.default_rng(rng.integers(np.iinfo(np.int64).max))
        return n_inputs

    def forward(self, x, training=False, row_keys=None):
        if not training:
            return x  # writes nothing: a training step may be using the mask
        if self.rate == 0:
            self._mask_in_use = None
            return x
        x = x.toarray() if sparse.issparse(x) else x
        step_key = int(self.rng_.integers(np.iinfo(np.int64).max))
        keep = self.scratch("_keep", x.shape, bool)
        if row_keys is None:
            np.greater_equal(self.rng_.random(x.shape), self.rate, out=keep)
        else:
            bits = self.scratch("_bits", x.shape, np.uint64)
            keyed_uniform_bits(row_keys, x.shape[1], step_key, out=bits)
            np.greater_equal(bits, np.uint64(self.rate * 2.0**53), out=keep)
        mask = self.scratch("_mask", x.shape, x.dtype)
        np.multiply(keep, x.dtype.type(1 / (1 - self.rate)), out=mask)
        self._mask_in_use = mask
        out = self.scratch("_out", x.shape, x.dtype)
        return np.multiply(x, mask, out=out)

    def backward(self, grad_out):
        if self.skip_input_grad:
            return None
        if self._mask_in_use is not None:
            grad_out *= self._mask_in_use
        return grad_out
