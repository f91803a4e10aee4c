"""scikit-learn's own estimator check suite, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknnlite import (
    SGD,
    BatchNorm,
    Dense,
    Dropout,
    NNClassifier,
    NNRegressor,
    ReLU,
    Sigmoid,
    Tanh,
)

ESTIMATORS = [
    NNRegressor(),
    NNRegressor(layers=[Dense(16), Tanh(), Dense(8), Sigmoid(), Dense()]),
    NNRegressor(layers=[Dense(32), ReLU(), Dense()], optimizer=SGD(momentum=0.8)),
    NNRegressor(layers=[Dense(16), Tanh(), Dense()], optimizer="lbfgs"),
    NNRegressor(layers=[Dense(16), BatchNorm(), ReLU(), Dense()], learning_rate=0.01),
    NNRegressor(
        layers=[Dense(16), BatchNorm(), ReLU(), Dropout(0.2), Dense()],
        learning_rate=0.01,
    ),
    NNClassifier(),
    NNClassifier(layers=[Dense(16), ReLU(), Dense(16), Tanh(), Dense()]),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
