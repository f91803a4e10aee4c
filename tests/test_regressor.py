"""NNRegressor as a scikit-learn estimator: fit, params, tools, persistence."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import SGD, Adam, Dense, NNRegressor, ReLU, SquaredError, Tanh


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=300, random_state=0)
    return StandardScaler().fit_transform(X), y


def _small(**params):
    settings = dict(
        layers=[Dense(16), ReLU(), Dense()],
        max_iter=30,
        learning_rate=0.01,
        random_state=0,
    )
    settings.update(params)
    return NNRegressor(**settings)


def test_fit_predict_score_learns(friedman):
    X, y = friedman
    with pytest.warns(ConvergenceWarning, match="max_iter=200"):
        model = _small(max_iter=200).fit(X, y)
    assert model.predict(X).shape == (300,)
    assert model.score(X, y) > 0.8
    assert model.n_features_in_ == 10 and model.n_outputs_ == 1
    assert model.n_iter_ == len(model.loss_curve_)
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_multi_output_gives_2d_predictions():
    X, y = make_regression(n_samples=120, n_features=5, n_targets=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # not the point here
        model = _small(max_iter=100).fit(X, y)
    assert model.predict(X).shape == (120, 3)
    assert model.n_outputs_ == 3 and model.layers_[-1].units == 3
    assert model.score(X, y) > 0.8


def test_fit_never_mutates_template_layers(friedman):
    X, y = friedman
    layers = [Dense(8), ReLU(), Dense()]
    model = NNRegressor(layers=layers, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert model.layers is layers
    assert layers[2].units is None and layers[0].init == "auto"
    assert not hasattr(layers[0], "params")
    assert model.layers_[0] is not layers[0]


def test_same_random_state_gives_identical_models(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = _small().fit(X, y).predict(X)
        second = _small().fit(X, y).predict(X)
        other = _small(random_state=1).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("random_state", [None, 0])
def test_fit_does_not_touch_global_numpy_random_state(friedman, random_state):
    X, y = friedman
    before = np.random.get_state()  # noqa: NPY002 - the global state is the subject
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _small(random_state=random_state, max_iter=2, early_stopping=True).fit(X, y)
    after = np.random.get_state()  # noqa: NPY002
    assert before[2] == after[2]
    np.testing.assert_array_equal(before[1], after[1])


def test_max_iter_reached_warns(friedman):
    X, y = friedman
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        _small(max_iter=3).fit(X, y)


def test_converges_and_stops_by_tol(friedman):
    X, y = friedman
    model = _small(max_iter=500, tol=1e-2, n_iter_no_change=2).fit(X, y)
    assert model.n_iter_ < 500
    assert model.best_loss_ == min(model.loss_curve_)


def test_early_stopping_restores_best_weights(friedman):
    X, y = friedman
    model = _small(early_stopping=True, max_iter=300, n_iter_no_change=5).fit(X, y)
    assert model.best_loss_ is None
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    best_epoch = int(np.argmax(model.validation_scores_))
    assert best_epoch < model.n_iter_ - 1
    # Recompute the score of the restored weights on the same held-out rows.
    replay = _small(early_stopping=True, max_iter=best_epoch + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        replay.fit(X, y)
    np.testing.assert_allclose(model.predict(X), replay.predict(X), rtol=1e-10)


def test_warm_start_continues_from_previous_weights(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _small(warm_start=True, max_iter=10).fit(X, y)
        first_loss = model.loss_curve_[-1]
        model.fit(X, y)
    assert model.n_iter_ == 20 and len(model.loss_curve_) == 20
    assert model.loss_curve_[10] < model.loss_curve_[0]
    assert model.loss_curve_[-1] < first_loss


@pytest.mark.parametrize("optimizer", ["sgd", SGD(momentum=0.5), Adam(beta_1=0.8)])
def test_optimizers_train(friedman, optimizer):
    X, y = friedman
    with pytest.warns(ConvergenceWarning, match="max_iter=150"):
        model = _small(
            optimizer=optimizer,
            max_iter=150,
            learning_rate=0.03,
            n_iter_no_change=np.inf,
        )
        model.fit(X, y)
    assert model.score(X, y) > 0.7


def test_deep_params_expose_layer_settings():
    model = NNRegressor(layers=[Dense(32), Tanh(), Dense()], optimizer=Adam())
    params = model.get_params(deep=True)
    assert params["layers__0__units"] == 32
    assert params["layers__2__units"] is None
    assert isinstance(params["layers__1"], Tanh)
    assert params["optimizer__beta_2"] == 0.999


def test_set_params_on_layers_copies_instead_of_mutating():
    layers = [Dense(32), Tanh(), Dense()]
    optimizer = Adam()
    model = NNRegressor(layers=layers, optimizer=optimizer)
    model.set_params(layers__0__units=8, layers__1=ReLU(), optimizer__beta_1=0.5)
    assert model.layers[0].units == 8 and isinstance(model.layers[1], ReLU)
    assert model.optimizer.beta_1 == 0.5
    assert layers[0].units == 32 and isinstance(layers[1], Tanh)
    assert optimizer.beta_1 == 0.9


def test_set_params_refuses_unknown_layer_index():
    with pytest.raises(ValueError, match="layers__0 to layers__2"):
        NNRegressor(layers=[Dense(4), ReLU(), Dense()]).set_params(layers__5__units=3)


def test_grid_search_over_layer_settings_and_whole_stacks(friedman):
    X, y = friedman
    layers = [Dense(4), ReLU(), Dense()]
    grid = GridSearchCV(
        NNRegressor(layers=layers, max_iter=100, learning_rate=0.01, random_state=0),
        {
            "layers__0__units": [4, 32],
            "optimizer": ["adam"],
        },
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_params_["layers__0__units"] == 32
    assert layers[0].units == 4
    candidates = [[Dense(8), ReLU(), Dense()], [Dense(8), Tanh(), Dense()]]
    base = NNRegressor(max_iter=20, random_state=0)
    stacks = GridSearchCV(base, {"layers": candidates}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stacks.fit(X, y)
        direct = [
            cross_val_score(clone(base).set_params(layers=stack), X, y, cv=2).mean()
            for stack in candidates
        ]
    # Each whole stack was trained as given: same scores as fitting it directly.
    np.testing.assert_array_equal(stacks.cv_results_["mean_test_score"], direct)
    winner = candidates[int(np.argmax(direct))]
    assert type(stacks.best_estimator_.layers_[1]) is type(winner[1])
    assert direct[0] != direct[1]


def test_clone_gives_unfitted_equal_estimator(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _small().fit(X, y)
    copy = clone(model)
    assert not hasattr(copy, "network_")
    assert repr(copy) == repr(model)
    assert copy.layers[0] is not model.layers[0]


def test_repr_reads_like_code():
    model = NNRegressor(layers=[Dense(64), ReLU(), Dense()], learning_rate=0.01)
    assert repr(model) == (
        "NNRegressor(layers=[Dense(64), ReLU(), Dense()], learning_rate=0.01)"
    )


def test_pickle_round_trip_is_bitwise_identical(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _small().fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    np.testing.assert_array_equal(restored.optimizer_.m_, model.optimizer_.m_)


def test_float32_trains_and_predicts_in_float32(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _small().fit(X.astype(np.float32), y)
    assert model.network_.coef.dtype == np.float32
    assert model.predict(X.astype(np.float32)).dtype == np.float32
    assert model.score(X.astype(np.float32), y) > 0.5


def test_string_targets_point_to_the_classifier():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="NNClassifier"):
        NNRegressor().fit(X, np.array(["a", "b", "a", "b"]))


def test_empty_layers_refused():
    with pytest.raises(ValueError, match="layers=\\[\\] has no layers"):
        NNRegressor(layers=[]).fit(np.ones((4, 2)), np.ones(4))


def test_last_layer_width_mismatch_names_both_numbers():
    with pytest.raises(ValueError, match="gives 3 outputs but y has 1"):
        NNRegressor(layers=[Dense(3)]).fit(np.ones((4, 2)), np.ones(4))


@pytest.mark.slow
def test_diabetes_matches_mlp_regressor_within_tolerance():
    """Same architecture and epochs as MLPRegressor, 5-fold CV in a Pipeline.

    MLPRegressor is given a standardised target too (NNRegressor does that
    internally), so the comparison is about the training, not the scaling.
    """
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    ours = make_pipeline(
        StandardScaler(),
        NNRegressor([Dense(100), ReLU(), Dense()], max_iter=200, random_state=0),
    )
    mlp = TransformedTargetRegressor(
        make_pipeline(
            StandardScaler(),
            MLPRegressor(hidden_layer_sizes=(100,), max_iter=200, random_state=0),
        ),
        transformer=StandardScaler(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours_r2 = cross_val_score(ours, X, y, cv=cv).mean()
        mlp_r2 = cross_val_score(mlp, X, y, cv=cv).mean()
    assert ours_r2 >= mlp_r2 - 0.02


def test_partial_fit_continues_with_optimizer_state(friedman):
    X, y = friedman
    model = _small()
    model.partial_fit(X, y)
    steps_after_one = model.optimizer_.n_steps_
    first_network = model.network_
    for _ in range(9):
        model.partial_fit(X, y)
    assert model.network_ is first_network
    assert model.n_iter_ == 10 and len(model.loss_curve_) == 10
    assert model.t_ == 10 * len(y)
    assert model.optimizer_.n_steps_ == 10 * steps_after_one
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.best_loss_ == min(model.loss_curve_)


def test_partial_fit_after_fit_continues_and_refit_restarts(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _small(max_iter=5).fit(X, y)
    coef = model.network_.coef.copy()
    model.partial_fit(X, y)
    assert model.n_iter_ == 6
    assert not np.array_equal(coef, model.network_.coef)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert model.n_iter_ == 5


def test_partial_fit_refuses_a_change_in_features(friedman):
    X, y = friedman
    model = _small().partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :5], y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"layers": [Dense(8), ReLU(), Dense(0)]}, r"'units' parameter of layers\[2\]"),
        ({"layers": [Dense(8, init="he")]}, r"'init'.*layers\[0\].*'he_uniform'"),
        ({"layers": [Dense(8), "rleu", Dense()]}, r"layers\[1\] is 'rleu'"),
        ({"layers": [Dense(8), ReLU, Dense()]}, r"layers\[1\] is the class ReLU"),
        ({"optimizer": Adam(beta_1=2)}, r"'beta_1' parameter of optimizer \(Adam\)"),
        ({"optimizer": "rmsprop"}, r"'optimizer'.*'adam'.*Got 'rmsprop'"),
        ({"alpha": -1.0}, r"'alpha' parameter of NNRegressor.*Got -1.0"),
    ],
)
def test_bad_settings_are_refused_by_name(params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        NNRegressor(**params).fit(np.ones((5, 2)), np.ones(5))


def test_adaptive_sgd_lowers_the_rate_instead_of_stopping(friedman, capsys):
    X, y = friedman
    common = dict(optimizer=SGD(schedule="adaptive"), tol=0.05, n_iter_no_change=2)
    adaptive = _small(max_iter=100, verbose=True, **common).fit(X, y)
    constant = _small(max_iter=100, tol=0.05, n_iter_no_change=2).fit(X, y)
    assert "learning rate 0.01 -> 0.002" in capsys.readouterr().out
    assert adaptive.n_iter_ > constant.n_iter_


def test_invscaling_sgd_decays_the_rate_by_samples_seen(friedman):
    X, y = friedman
    plain = dict(momentum=0.0, nesterov=False)
    # A rate small enough that training is stable: no best-weights restoring.
    settings = dict(batch_size=len(y), shuffle=False, max_iter=1, learning_rate=0.1)
    scheduled = _small(**settings, optimizer=SGD(schedule="invscaling", **plain))
    by_hand = _small(**settings, optimizer=SGD(**plain), warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scheduled.set_params(max_iter=3).fit(X, y)
        for epoch in range(3):  # one full-batch step per epoch
            by_hand.set_params(learning_rate=0.1 / (epoch * len(y) + 1) ** 0.5)
            by_hand.fit(X, y)
    np.testing.assert_allclose(scheduled.network_.coef, by_hand.network_.coef)


def test_coefs_and_intercepts_match_mlp_layout(friedman):
    X, y = friedman
    model = NNRegressor([Dense(8), ReLU(), Dense(4, use_bias=False), Tanh(), Dense()])
    assert not hasattr(model, "coefs_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(max_iter=2).fit(X, y)
    assert [w.shape for w in model.coefs_] == [(10, 8), (8, 4), (4, 1)]
    assert [b.shape for b in model.intercepts_] == [(8,), (1,)]
    assert np.shares_memory(model.coefs_[0], model.network_.coef)


def test_warm_start_may_switch_early_stopping_on_and_off(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _small(max_iter=3, warm_start=True).fit(X, y)
        model.set_params(early_stopping=True).fit(X, y)
        # One validation entry per epoch: NaN for the epochs not validated.
        assert len(model.validation_scores_) == 6 and model.best_loss_ is None
        assert np.isnan(model.validation_scores_[:3]).all()
        assert model.best_validation_score_ == max(model.validation_scores_[3:])
        model.set_params(early_stopping=False).fit(X, y)
    assert model.best_loss_ == min(model.loss_curve_[-3:])
    assert model.best_validation_score_ is None and model.n_iter_ == 9
    assert len(model.validation_scores_) == len(model.validation_loss_curve_) == 9
    assert np.isnan(model.validation_scores_[6:]).all()


@pytest.mark.parametrize(
    "change",
    [{"layers__1": "tanh"}, {"layers__0__units": 12}, {"layers": [Dense(4), Dense()]},
     {"loss": "huber"}],
    ids=["activation", "width", "layers", "loss"],
)  # fmt: skip
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_changed_architecture_or_loss_is_not_silently_ignored(change, method):
    # A warm fit kept the old network and loss while get_params described
    # the new ones (clone would then build another model).
    X, y = make_friedman1(n_samples=60, random_state=0)
    model = NNRegressor(
        [Dense(8), ReLU(), Dense()], max_iter=2, warm_start=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        coef = model.network_.coef.copy()
        model.set_params(**change)
        name = next(iter(change)).split("__")[0]
        with pytest.raises(ValueError, match=rf"^{name} changed \(set_params\)"):
            getattr(model, method)(X, y)
        np.testing.assert_array_equal(model.network_.coef, coef)
        model.set_params(warm_start=False).fit(X, y)  # the fix the error gives
        # get_params describes the fitted model again: a clone fits the same.
        fresh = clone(model).fit(X, y)
    np.testing.assert_array_equal(model.network_.coef, fresh.network_.coef)


def test_a_warm_fit_takes_a_new_optimizer_and_equal_settings_pass():
    X, y = make_friedman1(n_samples=60, random_state=0)
    model = NNRegressor(
        [Dense(8), ReLU(), Dense()], max_iter=2, warm_start=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        model.set_params(layers=[Dense(8), "relu", Dense()])  # other objects...
        model.set_params(layers=[Dense(8), ReLU(), Dense()])  # ...equal settings
        model.set_params(learning_rate=0.01).fit(X, y)
        assert model.n_iter_ == 4
        model.set_params(optimizer=SGD(momentum=0.5)).fit(X, y)
    assert isinstance(model.optimizer_, SGD) and model.optimizer_.momentum == 0.5
    assert model.optimizer_.n_steps_ == 2  # a fresh state, two epochs of one batch


def test_a_setting_respelled_equally_lets_training_continue():
    # "relu" becomes ReLU() in fit, "squared_error" SquaredError(): the same
    # model, so a warm fit continues instead of refusing a change.
    X, y = make_friedman1(n_samples=60, random_state=0)
    model = NNRegressor([Dense(8), ReLU(), Dense()], max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        model.set_params(layers__1="relu", loss=SquaredError()).fit(X, y)
        model.partial_fit(X, y)
    assert model.n_iter_ == 5
    model.set_params(layers__1="tanh")
    with pytest.raises(ValueError, match="layers changed"):
        model.partial_fit(X, y)
