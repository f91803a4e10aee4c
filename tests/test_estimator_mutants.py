"""Estimator behaviours that mutation testing found untested (see CONTRIBUTING).

Each test names the surviving mutants it kills; the equivalent survivors are
listed in tests/MUTATION.md.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import d2_pinball_score, r2_score

import sknnlite.training
from sknnlite import Dense, NNRegressor, Quantile

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = np.c_[X @ [1.0, -2.0, 0.5], X @ [0.5, 1.0, -1.0]] + 0.3 * RNG.normal(size=(60, 2))
WEIGHTS = RNG.uniform(0.1, 5.0, size=60)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _regressor(**params):
    settings = dict(layers=[Dense(8), "relu", Dense()], max_iter=5, random_state=0)
    return NNRegressor(**{**settings, **params})


# ------------------------------------------------------------ regressor.py
def test_score_scales_each_target_by_its_own_scale():
    # Kills score__mutmut_37/39: dividing every target by the first one's
    # scale squares a 1e200 target into inf, and R² becomes NaN.
    y = Y * [1.0, 1e200]
    model = _regressor().fit(X, y)
    scale = model.target_scale_
    expected = r2_score(y / scale, model.predict(X) / scale)
    assert model.target_scale_[1] > 1e199
    assert model.score(X, y) == pytest.approx(expected, rel=1e-9)


def test_quantile_score_weighs_samples():
    # Kills _quantile_score__mutmut_6/10 (sample_weight dropped).
    model = _regressor(loss=Quantile([0.2, 0.8])).fit(X, Y[:, 0])
    predicted = model.predict(X)
    expected = np.mean(
        [
            d2_pinball_score(Y[:, 0], predicted[:, k], alpha=a, sample_weight=WEIGHTS)
            for k, a in enumerate([0.2, 0.8])
        ]
    )
    unweighted = model.score(X, Y[:, 0])
    assert model.score(X, Y[:, 0], sample_weight=WEIGHTS) == pytest.approx(expected)
    assert abs(expected - unweighted) > 1e-3


def test_early_stopping_validation_score_weighs_samples(monkeypatch):
    # Kills NNRegressor._score_output__mutmut_16 (sample_weight dropped): the
    # validation R² weighs the held-out rows as the training loss does.
    held_rows = []
    split = sknnlite.training.train_test_split

    def recording_split(*arrays, **options):
        parts = split(*arrays, **options)
        held_rows.append(parts[1])
        return parts

    monkeypatch.setattr(sknnlite.training, "train_test_split", recording_split)
    model = _regressor(early_stopping=True, validation_fraction=0.5, max_iter=1)
    model.fit(X, Y[:, 0], sample_weight=WEIGHTS)
    (held,) = held_rows
    predicted = model.predict(X[held])
    weighted = r2_score(Y[held, 0], predicted, sample_weight=WEIGHTS[held])
    assert model.validation_scores_[0] == pytest.approx(weighted, rel=1e-6)
    assert abs(weighted - r2_score(Y[held, 0], predicted)) > 1e-3


def test_first_partial_fit_scales_only_its_flat_targets_by_magnitude():
    # Kills _scale_flat_columns_by_magnitude__mutmut_4 (flat judged over the
    # whole y): a constant column is scaled by |value| even when another
    # column of the same chunk varies.
    y = np.array([[5.0, 1.0], [5.0, 3.0]])
    model = _regressor().partial_fit(X[:2], y)
    np.testing.assert_array_equal(model.target_center_, [5.0, 2.0])
    np.testing.assert_array_equal(model.target_scale_, [5.0, 1.0])


def test_durations_as_targets_are_refused_with_the_conversion():
    # Kills _numeric_targets__mutmut_17 (message only): the error shows the fix.
    y = np.arange(60).astype("timedelta64[s]")
    with pytest.raises(ValueError, match=r"in seconds: y / np.timedelta64\(1, 's'\)"):
        _regressor().fit(X, y)
