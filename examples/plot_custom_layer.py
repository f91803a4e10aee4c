"""
A custom layer, checked and trained
===================================

A layer is a small class with ``build``, ``forward`` and ``backward`` (the
contract is on :class:`~sknnlite.Layer`). This one multiplies each input
feature by a learned factor. :func:`sknnlite.testing.check_layer` checks it
against everything the contract asks before it trains, then the network
learns which features matter: ``make_friedman1`` uses only its first five
features, the other five are noise, and the L2 penalty (``decay=True``)
shrinks the factors of the features the network does not need.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, Layer, NNRegressor, ReLU
from sknnlite.testing import check_layer


class Scale(Layer):
    """Multiplies each feature by a learned factor."""

    def build(self, n_inputs, rng, dtype):
        self.add_param("s", np.ones(n_inputs, dtype=dtype), decay=True)
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self._x = x  # backward needs it; predict keeps nothing
        return x * self.params["s"]

    def backward(self, grad_out):
        self.grads["s"][...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.params["s"]


check_layer(Scale())  # raises AssertionError listing every problem, if any

# %%
# Train it in front of a small network; ``alpha`` is the L2 penalty.
X, y = make_friedman1(n_samples=2000, random_state=0)
X = StandardScaler().fit_transform(X)
model = NNRegressor(
    [Scale(), Dense(32), ReLU(), Dense()],
    alpha=1.0,
    learning_rate=1e-2,
    max_iter=100,
    random_state=0,
).fit(X, y)
print(f"training R² {model.score(X, y):.3f}")

factors = np.abs(model.layers_[0].params["s"])
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.bar(np.arange(10), factors, color=["tab:blue"] * 5 + ["tab:gray"] * 5)
ax.set(
    xticks=np.arange(10),
    xlabel="feature (0-4 used by friedman1, 5-9 noise)",
    ylabel="|learned factor|",
)
