"""LossCurveDisplay: the curves of a fitted model, drawn with the Agg backend."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, LossCurveDisplay, NNRegressor, ReLU

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def close_figures():
    # Before as well: a doctest run earlier in the process (test_docstrings)
    # may leave a figure open, which the "opens no figure" tests would see.
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return make_friedman1(n_samples=120, random_state=0)


def _fit(X, y, **params):
    settings = dict(
        layers=[Dense(8), ReLU(), Dense()],
        max_iter=40,
        learning_rate=0.02,
        random_state=0,
    )
    settings.update(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return NNRegressor(**settings).fit(X, y)


def test_from_estimator_with_early_stopping(data):
    model = _fit(*data, early_stopping=True, n_iter_no_change=5, max_iter=150)
    display = LossCurveDisplay.from_estimator(model)
    assert isinstance(display.figure_, matplotlib.figure.Figure)
    assert display.ax_.figure is display.figure_
    n = model.n_iter_
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, n + 1))
    np.testing.assert_allclose(display.line_.get_ydata(), model.loss_curve_)
    np.testing.assert_allclose(
        display.validation_loss_line_.get_ydata(), model.validation_loss_curve_
    )
    np.testing.assert_allclose(
        display.validation_score_line_.get_ydata(), model.validation_scores_
    )
    assert len(display.validation_loss_line_.get_xdata()) == n
    assert display.validation_score_line_.axes is display.score_ax_
    best = int(np.argmax(model.validation_scores_)) + 1
    assert best < n  # stopped after the best epoch, so the mark is not the end
    assert display.best_epoch == best
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]
    labels = [t.get_text() for t in display.score_ax_.get_legend().get_texts()]
    assert labels == [
        "training loss",
        "validation loss",
        "validation score",
        f"best epoch ({best})",
    ]


def test_without_validation_marks_the_lowest_training_loss(data):
    model = _fit(*data, learning_rate=0.3, optimizer="sgd", max_iter=15)
    display = LossCurveDisplay.from_estimator(model)
    assert display.validation_loss_line_ is None
    assert display.validation_score_line_ is None
    assert display.score_ax_ is None
    assert len(display.line_.get_ydata()) == model.n_iter_
    best = int(np.argmin(model.loss_curve_)) + 1
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_title() == "NNRegressor"


def test_plot_on_given_axes_and_pipeline(data):
    pipe = make_pipeline(StandardScaler(), _fit(*data)).fit(*data)
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(pipe, ax=ax, name="mine")
    assert display.ax_ is ax
    assert ax.get_title() == "mine"
    assert len(display.line_.get_xdata()) == pipe[-1].n_iter_


def test_plot_from_recorded_curves():
    display = LossCurveDisplay(loss_curve=[3.0, 2.0, 2.5], validation_scores=[0.1, 0.5])
    display.plot()
    assert display.best_epoch == 2
    assert display.validation_loss_line_ is None
    assert len(display.validation_score_line_.get_xdata()) == 2


def test_from_estimator_needs_a_fitted_network(data):
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(NNRegressor())
    with pytest.raises(TypeError, match="records loss_curve_"):
        LossCurveDisplay.from_estimator(Ridge().fit(*data))


@pytest.mark.parametrize("method", ["plot", "from_estimator"])
def test_clear_error_without_matplotlib(monkeypatch, data, method):
    model = _fit(*data, max_iter=2)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install matplotlib") as info:
        if method == "plot":
            LossCurveDisplay(loss_curve=model.loss_curve_).plot()
        else:
            LossCurveDisplay.from_estimator(model)
    assert "sknnlite[plot]" in str(info.value)


NAN, INF = float("nan"), float("inf")


def test_nan_and_inf_are_never_the_best_epoch():
    display = LossCurveDisplay(loss_curve=[1.0, NAN, 0.5, INF]).plot()
    assert display.best_epoch == 3
    assert list(display.best_epoch_line_.get_xdata()) == [3, 3]
    display.figure_.canvas.draw()
    assert np.isfinite(display.ax_.get_ylim()).all()  # inf leaves a gap, no blow-up
    scores = LossCurveDisplay(
        loss_curve=[3.0, 2.0, 1.0], validation_scores=[0.2, NAN, 0.1]
    )
    assert scores.plot().best_epoch == 1


def test_no_finite_value_no_best_marker_and_a_note_says_so():
    display = LossCurveDisplay(loss_curve=[NAN, NAN, INF]).plot()
    assert display.best_epoch is None
    assert display.best_epoch_line_ is None
    notes = [text.get_text() for text in display.ax_.texts]
    assert notes == ["no best epoch: no finite train loss"]
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["training loss"]


def test_empty_history_is_a_clear_error_and_opens_no_figure():
    with pytest.raises(ValueError, match="nothing to draw: loss_curve is empty"):
        LossCurveDisplay(loss_curve=[]).plot()
    assert plt.get_fignums() == []


def test_from_estimator_that_recorded_no_epoch(data):
    model = NNRegressor([Dense(8), ReLU(), Dense()], max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        model.fit(*data)
    # A fit always records an epoch (a new model that cannot finish one
    # raises); an empty history is what a model from sknnlite 0.1 could have.
    model.loss_curve_ = []
    with pytest.raises(ValueError, match=r"loss_curve_ is empty.*no epoch"):
        LossCurveDisplay.from_estimator(model)
    assert plt.get_fignums() == []
