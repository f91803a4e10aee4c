"""sknnlite: small, fast neural networks in pure NumPy as scikit-learn estimators."""

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .classifier import NNClassifier
from .layers import Dense, Layer
from .losses import Loss, SigmoidCrossEntropy, SoftmaxCrossEntropy, SquaredError
from .network import Network
from .optimizers import SGD, Adam, Optimizer
from .regressor import NNRegressor

__version__ = "0.1.0"

__all__ = [
    "NNRegressor",
    "NNClassifier",
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
    "SoftmaxCrossEntropy",
    "SigmoidCrossEntropy",
    "Optimizer",
    "SGD",
    "Adam",
    "Network",
    "__version__",
]
