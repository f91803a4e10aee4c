"""sknnlite: small, fast neural networks in pure NumPy as scikit-learn estimators."""

from ._version import __version__
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .layers import Dense, Layer
from .losses import Loss, SquaredError
from .network import Network
from .optimizers import SGD, Adam, Optimizer
from .regressor import NNRegressor

__all__ = [
    "NNRegressor",
    "Layer",
    "Dense",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Identity",
    "Softplus",
    "Loss",
    "SquaredError",
    "Optimizer",
    "SGD",
    "Adam",
    "Network",
    "__version__",
]
