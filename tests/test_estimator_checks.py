"""scikit-learn's own estimator check suite, with no expected failures.

Every configuration is seeded, so each run checks the same fits, and each
one trains on the checks' unscaled data without diverging: a
DivergenceWarning fails the check (see ``filterwarnings`` in pyproject.toml).
The checks fit small, unscaled, often unlearnable data for the default
``max_iter``: the ConvergenceWarnings that report that (``max_iter``
reached, an unstable end, a network no better than a constant) are the only
warnings ignored here.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknnlite import (
    SGD,
    BatchNorm,
    Dense,
    Dropout,
    NNClassifier,
    NNRegressor,
    Quantile,
    ReLU,
    Residual,
    Sigmoid,
    Tanh,
)

ESTIMATORS = [
    NNRegressor(random_state=0),
    NNRegressor(
        layers=[Dense(16), Tanh(), Dense(8), Sigmoid(), Dense()], random_state=0
    ),
    # BatchNorm first: SGD with momentum trains on the checks' raw features
    # (some centred at 100) instead of diverging on them.
    NNRegressor(
        layers=[BatchNorm(), Dense(32), ReLU(), Dense()],
        optimizer=SGD(momentum=0.8),
        random_state=0,
    ),
    NNRegressor(layers=[Dense(16), Tanh(), Dense()], optimizer="lbfgs", random_state=0),
    NNRegressor(
        layers=[Dense(16), BatchNorm(), ReLU(), Dense()],
        learning_rate=0.01,
        random_state=0,
    ),
    NNRegressor(
        layers=[Dense(16), BatchNorm(), ReLU(), Dropout(0.2), Dense()],
        learning_rate=0.01,
        random_state=0,
    ),
    # Residual blocks, one with a projection, a pre-norm, BatchNorm and
    # Dropout inside, and activation names.
    NNRegressor(
        layers=[
            Dense(16),
            Residual([Dense(16), "relu", Dropout(0.1), Dense()], norm=BatchNorm()),
            Residual([Dense(16), BatchNorm(), "tanh", Dense(8)]),
            Dense(),
        ],
        learning_rate=0.01,
        random_state=0,
    ),
    # One quantile, so that predict has the shape of y as the checks expect
    # (several quantiles add an axis).
    NNRegressor(loss=Quantile(0.8), random_state=0),
    NNClassifier(
        layers=[Dense(16), Residual([Dense(16), "relu", Dense()]), "relu", Dense()],
        random_state=0,
    ),
    NNClassifier(random_state=0),
    NNClassifier(
        layers=[Dense(16), ReLU(), Dense(16), Tanh(), Dense()], random_state=0
    ),
]


EXPECTED_ON_CHECK_DATA = [
    "Stopped after max_iter",
    "L-BFGS stopped after",
    "Training was unstable",
    "The fitted network fits its training data worse",
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        for message in EXPECTED_ON_CHECK_DATA:
            warnings.filterwarnings("ignore", message, category=ConvergenceWarning)
        check(estimator)
