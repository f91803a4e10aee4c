"""sknnlite: small, fast neural networks in pure NumPy as scikit-learn estimators."""

from ._version import __version__
from .activations import (
    ELU,
    GELU,
    SELU,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Softsign,
    Tanh,
)
from .blocks import Residual, Sequential
from .classifier import NNClassifier
from .display import LossCurveDisplay
from .dropout import Dropout
from .exceptions import DivergenceWarning, SknnliteVersionWarning
from .layers import Dense, Layer
from .losses import (
    AbsoluteError,
    Gamma,
    Huber,
    Loss,
    Poisson,
    Quantile,
    SigmoidCrossEntropy,
    SoftmaxCrossEntropy,
    SquaredError,
)
from .network import Network
from .normalization import BatchNorm
from .optimizers import LBFGS, SGD, Adam, Optimizer
from .regressor import NNRegressor

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
    "ELU",
    "SELU",
    "GELU",
    "SiLU",
    "Mish",
    "Softsign",
    "Dropout",
    "BatchNorm",
    "Sequential",
    "Residual",
    "Loss",
    "SquaredError",
    "AbsoluteError",
    "Huber",
    "Poisson",
    "Gamma",
    "Quantile",
    "SoftmaxCrossEntropy",
    "SigmoidCrossEntropy",
    "Optimizer",
    "SGD",
    "Adam",
    "LBFGS",
    "Network",
    "LossCurveDisplay",
    "DivergenceWarning",
    "SknnliteVersionWarning",
    "__version__",
]
