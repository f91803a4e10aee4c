"""Estimator behaviours that mutation testing found untested (see CONTRIBUTING).

Each test names the surviving mutants it kills; the equivalent survivors are
listed in tests/MUTATION.md.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import d2_pinball_score, r2_score
from sklearn.utils import estimator_html_repr, get_tags

import sknnlite.training
from sknnlite import Dense, NNClassifier, NNRegressor, Quantile
from sknnlite.exceptions import SknnliteVersionWarning

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


def _classifier(**params):
    settings = dict(layers=[Dense(8), "relu", Dense()], max_iter=5, random_state=0)
    return NNClassifier(**{**settings, **params})


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


# ----------------------------------------------------------- classifier.py
def test_string_labels_of_numpy_and_python_types_are_one_kind():
    # Kills _label_kind__mutmut_5 (a str subclass reported by its type name):
    # np.str_ and str labels, as an object column can hold, are both strings.
    y = np.array(["a", np.str_("b")] * 30, dtype=object)
    model = _classifier().fit(X, y)
    assert model.classes_.tolist() == ["a", "b"]


def test_class_weights_summing_below_one_train_like_sample_weights():
    # Kills _weigh_samples__mutmut_36 (a total weight of at most 1 refused as
    # zero): small weights are valid, only their ratios and total matter.
    y = (X[:, 0] > 0).astype(int)
    weighted = _classifier(class_weight={0: 0.01, 1: 0.005}).fit(X, y)
    per_sample = np.where(y == 0, 0.01, 0.005)
    plain = _classifier().fit(X, y, sample_weight=per_sample)
    assert per_sample.sum() < 1
    np.testing.assert_allclose(weighted.network_.coef, plain.network_.coef)


def test_labels_of_mixed_types_are_refused_naming_the_types_and_fix():
    # Kills _label_kind__mutmut_1 and _object_labels__mutmut_27/28 (message only).
    y = np.array([True, 1] * 30, dtype=object)
    with pytest.raises(
        ValueError,
        match=r"^y mixes labels of different types \(bool, number\)\. Give labels "
        r"of one type, e\.g\. y\.astype\(str\)\.$",
    ):
        _classifier().fit(X, y)


def test_class_weights_zeroing_every_sample_are_refused_with_the_fix():
    # Kills _weigh_samples__mutmut_39/40 (message only).
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match=r"zero weight\. Give some class a positive"):
        _classifier(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


def test_an_unknown_label_error_says_when_classes_are_fixed():
    # Kills _check_known_labels__mutmut_34 (message only).
    y = (X[:, 0] > 0).astype(int)
    model = _classifier().fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"fixed when it is built \(by fit, or by classes= in the first "
        r"partial_fit\)\.",
    ):
        model.partial_fit(X[:3], [0, 2, 1])


# ---------------------------------------------------------------- _base.py
def test_html_repr_shows_one_block_per_layer():
    # Kills BaseNN._sk_visual_block___mutmut_7/8: scikit-learn falls back to
    # the plain repr (which also names the layers) when the block fails, so
    # look for the per-layer blocks: a label and the layer's repr each.
    html = estimator_html_repr(NNRegressor([Dense(64), "tanh", Dense()]))
    assert html.count("<div>Dense</div>") == 2
    assert "<pre>Dense(64)</pre>" in html and "<pre>Dense()</pre>" in html


@pytest.mark.parametrize("estimator", [NNRegressor(), NNClassifier()])
def test_estimators_declare_sparse_input(estimator):
    # Kills BaseNN.__sklearn_tags____mutmut_2: the tag scikit-learn's tools read.
    assert get_tags(estimator).input_tags.sparse is True


def test_a_model_from_another_version_warns_to_refit():
    # Kills BaseNN.__setstate____mutmut_21 (message only): the warning says
    # what to do.
    state = _regressor(max_iter=1).fit(X, Y[:, 0]).__getstate__()
    state["_sknnlite_version"] = "0.0.1"
    with pytest.warns(
        SknnliteVersionWarning, match="refit it with this version to be safe"
    ):
        NNRegressor.__new__(NNRegressor).__setstate__(state)
