"""scikit-learn's callback API: one task per epoch, propagated by meta-estimators."""

import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, NNRegressor, ReLU

callback = pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Recorder:
    """Records (hook, estimator name, task name) for every hook call."""

    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.calls.append(("setup", context.estimator_name, context.task_name))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.estimator_name, context.task_name))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("end", context.estimator_name, context.task_name))
        if context.task_name == "epoch" and self.stop_after is not None:
            return fitted_estimator.n_iter_ >= self.stop_after
        return False

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.estimator_name, context.task_name))

    def count(self, hook, task_name="epoch"):
        return sum(1 for h, _, task in self.calls if (h, task) == (hook, task_name))


class PropagatedRecorder(Recorder):
    """The same, propagated from meta-estimators to the estimators they fit."""

    max_propagation_depth = None


@pytest.fixture(scope="module")
def data():
    return make_friedman1(n_samples=80, random_state=0)


def _model(**params):
    settings = dict(layers=[Dense(8), ReLU(), Dense()], max_iter=4, random_state=0)
    settings.update(params)
    return NNRegressor(**settings)


def test_one_task_per_epoch_inside_one_fit_task(data):
    recorder = Recorder()
    model = _model().set_callbacks(recorder).fit(*data)
    assert model.n_iter_ == 4
    assert recorder.count("begin") == recorder.count("end") == 4
    assert recorder.calls[0] == ("setup", "NNRegressor", "fit")
    assert recorder.calls[1] == ("begin", "NNRegressor", "fit")
    assert recorder.calls[-2] == ("end", "NNRegressor", "fit")
    assert recorder.calls[-1] == ("teardown", "NNRegressor", "fit")
    assert not hasattr(model, "_callback_fit_ctx")  # cleaned up after fit


def test_early_stopping_epochs_are_tasks_too(data):
    recorder = Recorder()
    model = _model(
        early_stopping=True, max_iter=50, n_iter_no_change=2, learning_rate=0.1
    )
    model.set_callbacks(recorder).fit(*data)
    assert model.n_iter_ < 50
    assert recorder.count("end") == model.n_iter_


def test_a_callback_can_stop_training(data):
    recorder = Recorder(stop_after=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping is not a failure
        model = _model(max_iter=50).set_callbacks(recorder).fit(*data)
    assert model.n_iter_ == 2


def test_partial_fit_is_one_fit_task_with_one_epoch(data):
    recorder = Recorder()
    model = _model().set_callbacks(recorder)
    model.partial_fit(*data).partial_fit(*data)
    assert recorder.count("end", "fit") == recorder.count("end", "epoch") == 2


def test_propagated_from_grid_search_one_task_per_epoch(data):
    recorder = PropagatedRecorder()
    search = GridSearchCV(_model(), {"alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(recorder).fit(*data)
    # 2 candidates x 2 folds + the refit, 4 epochs each.
    assert recorder.count("end", "fit") == 5 + 1  # + the search's own fit task
    assert recorder.count("end", "epoch") == 5 * 4
    epochs = {name for hook, name, task in recorder.calls if task == "epoch"}
    assert epochs == {"NNRegressor"}


def test_propagated_through_pipeline_in_grid_search(data):
    recorder = PropagatedRecorder()
    pipe = make_pipeline(StandardScaler(), _model())
    search = GridSearchCV(pipe, {"nnregressor__alpha": [1e-4]}, cv=2)
    search.set_callbacks(recorder).fit(*data)
    assert recorder.count("end", "epoch") == 3 * 4  # 2 folds + refit


def test_scoring_monitor_scores_every_epoch(data):
    X, y = data
    monitor = callback.ScoringMonitor(scoring="r2")
    model = _model().set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert len(epochs) == model.n_iter_
    # After the last epoch the weights are the final ones.
    assert epochs[-1]["r2"] == pytest.approx(model.score(X, y))
    assert epochs[0]["r2"] != pytest.approx(epochs[-1]["r2"])


def test_scoring_monitor_on_estimator_inside_grid_search(data):
    monitor = callback.ScoringMonitor(scoring="r2")
    search = GridSearchCV(_model().set_callbacks(monitor), {"alpha": [1e-4]}, cv=2)
    search.fit(*data)
    # The clones' tasks join the search's task tree: one run, 3 fits.
    log = monitor.get_logs()
    assert log.estimator_name == "GridSearchCV"
    epochs = [row for row in log.data if row["task_name"] == "epoch"]
    assert len(epochs) == 3 * 4
    assert {row["estimator_name"] for row in epochs} == {"NNRegressor"}


def test_progress_bar_over_epochs(data, capsys):
    pytest.importorskip("rich")
    _model().set_callbacks(callback.ProgressBar()).fit(*data)
    out = capsys.readouterr().out
    assert "NNRegressor - fit" in out
    assert "100%" in out


def test_progress_bar_in_grid_search_and_pipeline(data, capsys):
    pytest.importorskip("rich")
    pipe = make_pipeline(StandardScaler(), _model())
    search = GridSearchCV(pipe, {"nnregressor__alpha": [1e-4]}, cv=2)
    search.set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    search.fit(*data)
    out = capsys.readouterr().out
    assert out.count("fit-final-estimator | NNRegressor - fit") == 3
    assert "%" not in out.replace("100%", "")  # every bar finished


def test_progress_bar_on_the_inner_estimator_is_refused(data):
    # scikit-learn wants propagated callbacks on the outermost estimator.
    pytest.importorskip("rich")
    model = _model().set_callbacks(callback.ProgressBar())
    search = GridSearchCV(model, {"alpha": [1e-4]}, cv=2, error_score="raise")
    with pytest.raises(TypeError, match="Register them directly on the meta"):
        search.fit(*data)


class Keeper:
    """Keeps the ``fitted_estimator`` of every epoch's begin and end."""

    def __init__(self):
        self.begins, self.ends = [], []

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.begins.append(fitted_estimator)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.ends.append(fitted_estimator)

    def teardown(self, estimator, context):
        pass


class NotAsking(Keeper):
    """Hooks without ``fitted_estimator``: they must not cost a snapshot."""

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


def test_each_epoch_gets_the_model_as_it_was_after_that_epoch(data):
    X, y = data
    keeper = Keeper()
    model = _model(max_iter=4).set_callbacks(keeper).fit(X, y)
    assert len(keeper.ends) == 4
    for epoch, snapshot in enumerate(keeper.ends, start=1):
        alone = _model(max_iter=epoch).fit(X, y)  # same seed, stopped there
        assert snapshot.n_iter_ == epoch
        assert snapshot.loss_curve_ == alone.loss_curve_  # `epoch` entries
        np.testing.assert_allclose(snapshot.predict(X), alone.predict(X), rtol=1e-12)
    # Keeping snapshots does not change the model that went on training.
    plain = _model(max_iter=4).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))
    assert model.loss_curve_ == plain.loss_curve_
    assert not np.shares_memory(keeper.ends[0].network_.coef, model.network_.coef)


@pytest.mark.parametrize("max_iter", [3, 500])
def test_lbfgs_has_one_begun_and_ended_task_per_iteration(data, max_iter):
    # It used to open a task after SciPy's last iteration: one more begun than
    # ended, and "maximum number of children" once it reached max_iter.
    recorder, keeper = Recorder(), Keeper()
    model = _model(optimizer="lbfgs", max_iter=max_iter, tol=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_callbacks(recorder, keeper).fit(*data)
    assert recorder.count("begin") == recorder.count("end") == model.n_iter_
    assert model.n_iter_ == 3 if max_iter == 3 else model.n_iter_ < max_iter
    for iteration, snapshot in enumerate(keeper.ends, start=1):
        assert snapshot.n_iter_ == iteration
    alone = _model(optimizer="lbfgs", max_iter=2, tol=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        alone.fit(*data)
    np.testing.assert_allclose(
        keeper.ends[1].predict(data[0]), alone.predict(data[0]), rtol=1e-12
    )


def test_epoch_begins_get_the_model_before_the_epoch(data):
    keeper = Keeper()
    _model(max_iter=3).set_callbacks(keeper).fit(*data)
    assert [snapshot.n_iter_ for snapshot in keeper.begins] == [0, 1, 2]
    np.testing.assert_array_equal(
        keeper.begins[2].predict(data[0]), keeper.ends[1].predict(data[0])
    )


def test_snapshot_of_the_best_epoch_is_what_early_stopping_keeps(data):
    X, y = data
    keeper = Keeper()
    model = _model(early_stopping=True, max_iter=60, n_iter_no_change=3)
    model.set_params(learning_rate=0.05).set_callbacks(keeper).fit(X, y)
    best = int(np.argmax(model.validation_scores_))
    assert best < model.n_iter_ - 1  # the final model is a restored one
    snapshot = keeper.ends[best]
    assert len(snapshot.validation_scores_) == snapshot.n_iter_ == best + 1
    np.testing.assert_array_equal(snapshot.predict(X), model.predict(X))
    assert not np.array_equal(keeper.ends[-1].predict(X), model.predict(X))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_each_epoch_snapshot_has_the_history_up_to_that_epoch(data, early_stopping):
    keeper = Keeper()
    model = _model(early_stopping=early_stopping, max_iter=5)
    model.set_callbacks(keeper).fit(*data)
    assert len(keeper.ends) == 5
    for n, snapshot in enumerate(keeper.ends, start=1):
        assert snapshot.loss_curve_ == model.loss_curve_[:n]
        if early_stopping:
            scores = model.validation_scores_[:n]
            assert snapshot.validation_scores_ == scores
            assert snapshot.validation_loss_curve_ == model.validation_loss_curve_[:n]
            assert snapshot.best_validation_score_ == max(scores)
            assert snapshot.best_loss_ is None
        else:
            assert snapshot.validation_scores_ is None
            assert snapshot.validation_loss_curve_ is None
            assert snapshot.best_loss_ == min(model.loss_curve_[:n])
            assert snapshot.best_validation_score_ is None


def test_training_a_snapshot_leaves_the_model_alone(data):
    # The optimizer state and random generator are copied too, not shared.
    X, y = data
    keeper = Keeper()
    model = _model(max_iter=3).set_callbacks(keeper).fit(X, y)
    before, steps = model.predict(X), model.optimizer_.n_steps_
    rng_state = model._rng.bit_generator.state
    keeper.ends[0].set_callbacks().partial_fit(X, y)
    assert keeper.ends[0].n_iter_ == 2 and model.n_iter_ == 3
    np.testing.assert_array_equal(model.predict(X), before)
    assert model.optimizer_.n_steps_ == steps
    np.testing.assert_equal(model._rng.bit_generator.state, rng_state)


def test_no_snapshot_unless_a_hook_asks_for_it(data, monkeypatch):
    def fail(estimator):
        raise AssertionError("a snapshot was taken")

    monkeypatch.setattr("sknnlite._callbacks.fitted_state_copy", fail)
    _model().fit(*data)  # no callback
    _model().set_callbacks(NotAsking()).fit(*data)
    with pytest.raises(AssertionError, match="a snapshot was taken"):
        _model().set_callbacks(Keeper()).fit(*data)


class FailingRecorder(Recorder):
    """Raises at the end of the first epoch."""

    def on_fit_task_end(self, estimator, context):
        super().on_fit_task_end(estimator, context)
        if context.task_name == "epoch":
            raise RuntimeError("callback failed")


def test_a_failed_fit_still_tears_down_the_users_callbacks(data):
    # A ProgressBar's display thread ends only in teardown: skipping it would
    # leave the process hanging at exit.
    recorder = FailingRecorder()
    model = _model().set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(*data)
    assert recorder.calls[-1] == ("teardown", "NNRegressor", "fit")
    assert model._skl_callbacks == [recorder]
    assert model._skl_callbacks[0] is recorder
    assert not hasattr(model, "_callback_fit_ctx")


def test_fits_without_the_callback_api():
    # As with a scikit-learn that has no sklearn.callback: our module falls
    # back to an empty mixin and fitting works, without set_callbacks.
    script = """
import sys
import sklearn.callback, sklearn.metrics, sklearn.model_selection
real = sys.modules["sklearn.callback"]
sys.modules["sklearn.callback"] = None
import sknnlite
sys.modules["sklearn.callback"] = real
from sklearn.datasets import make_friedman1
X, y = make_friedman1(n_samples=50, random_state=0)
model = sknnlite.NNRegressor(max_iter=3, random_state=0).fit(X, y)
assert not hasattr(model, "set_callbacks")
assert model.n_iter_ == 3 and model.predict(X).shape == (50,)
model.partial_fit(X, y)
print("fallback ok", model.n_iter_)
"""
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        cwd=pathlib.Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fallback ok 4"
