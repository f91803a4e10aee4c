"""Activation names wherever a layer is expected: fit, get/set_params, tools."""

import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sknnlite import Dense, LeakyReLU, NNClassifier, NNRegressor, ReLU, Sigmoid, Tanh
from sknnlite.activations import ACTIVATIONS, get_activation
from sknnlite.layers import Layer


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2]


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_registered_name_gives_a_fresh_layer_of_its_class(name):
    first, second = get_activation(name), get_activation(name)
    assert isinstance(first, ACTIVATIONS[name]) and isinstance(first, Layer)
    assert first is not second
    assert first.get_params() == ACTIVATIONS[name]().get_params()


def test_mlp_activation_names_are_registered():
    # MLPRegressor's activation names mean the same layers here.
    assert ACTIVATIONS["logistic"] is Sigmoid
    assert {"identity", "logistic", "tanh", "relu"} <= set(ACTIVATIONS)


def test_a_name_trains_exactly_like_the_layer_object(data):
    X, y = data
    common = dict(max_iter=5, random_state=0)
    named = _fit(NNRegressor([Dense(8), "tanh", Dense()], **common), X, y)
    objects = _fit(NNRegressor([Dense(8), Tanh(), Dense()], **common), X, y)
    np.testing.assert_array_equal(named.predict(X), objects.predict(X))
    assert isinstance(named.layers_[1], Tanh)
    assert named.layers[1] == "tanh"  # the template keeps the name


def test_a_name_before_dense_auto_picks_the_activations_initialiser(data):
    X, y = data
    model = _fit(NNRegressor([Dense(8), "relu", Dense()], max_iter=1), X, y)
    assert model.layers_[0].init == ReLU.preferred_init


def test_get_params_returns_the_name_and_set_params_takes_one():
    model = NNRegressor([Dense(8), "relu", Dense()])
    assert model.get_params()["layers__1"] == "relu"
    assert "layers__1__negative_slope" not in model.get_params()
    model.set_params(layers__1="tanh")
    assert model.layers[1] == "tanh"


def test_a_nested_setting_on_a_name_turns_it_into_its_layer():
    template = [Dense(8), "leaky_relu", Dense()]
    model = NNRegressor(template).set_params(layers__1__negative_slope=0.2)
    assert isinstance(model.layers[1], LeakyReLU)
    assert model.layers[1].negative_slope == 0.2
    assert template[1] == "leaky_relu"  # the caller's list is untouched


def test_a_name_then_its_settings_in_one_call():
    leaky = LeakyReLU()
    model = NNRegressor([Dense(8), leaky, Dense()])
    model.set_params(layers__1="leaky_relu", layers__1__negative_slope=0.3)
    assert model.layers[1].negative_slope == 0.3
    # Replacing by an object, then setting it, copies it: the object is not changed.
    model.set_params(layers__1=leaky, layers__1__negative_slope=0.4)
    assert model.layers[1].negative_slope == 0.4 and leaky.negative_slope == 0.01


def test_an_unknown_name_is_refused_at_fit_listing_the_valid_names(data):
    X, y = data
    model = NNRegressor([Dense(8), "rleu", Dense()])  # accepted until fit
    with pytest.raises(ValueError, match=r"layers\[1\] is 'rleu'") as error:
        model.fit(X, y)
    for name in ACTIVATIONS:
        assert repr(name) in str(error.value)


def test_a_nested_setting_on_an_unknown_name_names_it():
    with pytest.raises(ValueError, match=r"layers\[1\] is 'rleu'"):
        NNRegressor([Dense(8), "rleu", Dense()]).set_params(layers__1__alpha=1.0)


def test_clone_keeps_names_and_objects(data):
    model = NNRegressor([Dense(8), "relu", Dense(4), Tanh(), Dense()])
    copy = clone(model)
    assert copy.layers[1] == "relu" and isinstance(copy.layers[3], Tanh)
    assert copy.layers[3] is not model.layers[3]


def test_grid_search_mixes_names_and_objects(data):
    X, y = data
    grid = {"layers__1": ["tanh", ReLU(), "gelu"]}
    json.dumps({"layers__1": ["tanh", "gelu"]})  # names can be stored as JSON
    search = GridSearchCV(
        NNRegressor([Dense(8), "relu", Dense()], max_iter=3, random_state=0),
        grid,
        cv=2,
    )
    _fit(search, X, y)
    assert len(search.cv_results_["params"]) == 3
    assert search.cv_results_["params"][0]["layers__1"] == "tanh"
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_a_json_round_trip_of_a_choice_sets_the_same_model(data):
    # What an Optuna study stored in a database gives back: plain strings.
    X, y = data
    choice = json.loads(json.dumps({"activation": "silu"}))["activation"]
    model = NNRegressor([Dense(8), "relu", Dense()], max_iter=2, random_state=0)
    _fit(model.set_params(layers__1=choice), X, y)
    assert type(model.layers_[1]).__name__ == "SiLU"


def test_the_classifier_takes_names_too(data):
    X, y = data
    model = _fit(NNClassifier([Dense(8), "logistic", Dense()], max_iter=3), X, y > 0)
    assert isinstance(model.layers_[1], Sigmoid)
