"""Seeing training as text: the verbose epoch table, the history, summary()."""

import re
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sknnlite import Dense, NNRegressor, ReLU, Tanh
from sknnlite._reporting import best_epoch_line, find_best_epoch

ROW = re.compile(r"^\s+(\d+)\s+(-?\d+\.\d+)\s")


@pytest.fixture(scope="module")
def data():
    return make_friedman1(n_samples=120, random_state=0)


def _fit(X, y, **params):
    settings = dict(layers=[Dense(8), ReLU(), Dense()], max_iter=6, random_state=0)
    settings.update(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return NNRegressor(**settings).fit(X, y)


def _diverging_in_first_epoch(**params):
    """A new model whose first epoch diverges: its fit raises, recording no epoch."""
    return NNRegressor(
        [Dense(8), ReLU(), Dense()],
        optimizer="sgd",
        learning_rate=1e4,
        batch_size=8,
        max_iter=5,
        random_state=0,
        **params,
    )


def _rows(text):
    return [line for line in text.splitlines() if ROW.match(line)]


def test_verbose_prints_one_row_per_epoch_with_the_loss(data, capsys):
    start = time.perf_counter()
    model = _fit(*data, verbose=True)
    wall = time.perf_counter() - start
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["epoch", "train", "loss", "best", "sec"]
    rows = _rows(out)
    assert len(rows) == model.n_iter_ == 6
    for epoch, (row, loss) in enumerate(zip(rows, model.loss_curve_, strict=True)):
        fields = row.split()
        assert int(fields[0]) == epoch + 1
        assert float(fields[1]) == pytest.approx(loss, abs=1e-6)
    # Seconds per epoch, not cumulative or in milliseconds: they add up to
    # less than the whole fit took.
    seconds = [float(row.split()[-1]) for row in rows]
    assert 0 < sum(seconds) <= wall
    best = int(np.argmin(model.loss_curve_)) + 1
    assert lines[-1].startswith(f"best epoch: {best} (train loss")


def test_verbose_marks_new_bests_only(data, capsys):
    # A large learning rate makes the loss go up on some epochs.
    model = _fit(*data, verbose=True, learning_rate=0.5, optimizer="sgd", max_iter=12)
    rows = _rows(capsys.readouterr().out)
    curve = np.asarray(model.loss_curve_)
    expected = curve < np.minimum.accumulate(np.r_[np.inf, curve[:-1]])
    assert not expected.all()  # the data really has epochs that are not best
    assert [row.split()[2] == "*" for row in rows] == list(expected)


def test_verbose_table_has_validation_columns_with_early_stopping(data, capsys):
    model = _fit(*data, verbose=True, early_stopping=True, validation_fraction=0.25)
    out = capsys.readouterr().out
    assert "valid loss" in out.splitlines()[0]
    assert "valid score" in out.splitlines()[0]
    rows = _rows(out)
    assert len(rows) == model.n_iter_
    for row, val_loss, score in zip(
        rows, model.validation_loss_curve_, model.validation_scores_, strict=True
    ):
        fields = row.split()
        assert float(fields[2]) == pytest.approx(val_loss, abs=1e-6)
        assert float(fields[3]) == pytest.approx(score, abs=1e-6)
    best = int(np.argmax(model.validation_scores_)) + 1
    assert out.splitlines()[-1].startswith(f"best epoch: {best} (valid score")


def test_silent_without_verbose(data, capsys):
    model = _fit(*data, early_stopping=True)
    model.partial_fit(*data)
    assert capsys.readouterr().out == ""


def test_partial_fit_prints_header_once_then_rows(data, capsys):
    X, y = data
    model = NNRegressor([Dense(8), ReLU(), Dense()], verbose=True, random_state=0)
    for _ in range(3):
        model.partial_fit(X, y)
    out = capsys.readouterr().out
    assert out.count("train loss") == 1
    assert [int(row.split()[0]) for row in _rows(out)] == [1, 2, 3]


def test_validation_loss_curve_is_the_held_out_loss_without_penalty(data):
    # For half the squared error on one standardised output, 1 - R² equals
    # 2 * loss / var(y_valid), so (1 - score) / loss is the same every epoch.
    # It would drift if the loss had the L2 term (alpha is large here) or
    # came from other rows than the score.
    model = _fit(*data, early_stopping=True, alpha=5.0, n_iter_no_change=50)
    losses = np.asarray(model.validation_loss_curve_)
    scores = np.asarray(model.validation_scores_)
    assert losses.shape == scores.shape == (model.n_iter_,)
    ratio = (1 - scores) / losses
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    assert not np.allclose(losses, model.loss_curve_)


def test_no_validation_loss_curve_without_early_stopping(data):
    model = _fit(*data)
    assert model.validation_loss_curve_ is None
    assert model.validation_scores_ is None


def test_summary_counts_every_parameter(data):
    X, y = data
    layers = [Dense(8), Tanh(), Dense(5, use_bias=False), ReLU(), Dense()]
    model = _fit(X, y, layers=layers)
    summary = model.summary()
    assert summary.n_params == model.network_.coef.size == 10 * 8 + 8 + 8 * 5 + 5 + 1
    assert [row[3] for row in summary.rows] == [
        sum(p.size for p in layer.params.values()) for layer in model.layers_
    ]
    assert [row[2] for row in summary.rows] == [8, 8, 5, 5, 1]
    assert [row[1] for row in summary.rows] == [repr(layer) for layer in model.layers_]
    assert summary.n_inputs == X.shape[1]


def test_summary_prints_a_table_with_the_total(data):
    model = _fit(*data, layers=[Dense(64), ReLU(), Dense(64), ReLU(), Dense()])
    text = str(model.summary())
    assert repr(model.summary()) == text
    lines = text.splitlines()
    assert lines[0].split() == ["#", "layer", "output", "params"]
    assert lines[-1].split() == ["total", f"{model.network_.coef.size:,}"]
    assert any(line.split()[:2] == ["2", "Dense(64,"] for line in lines)
    assert "4,160" in text  # 64 * 64 + 64


def test_summary_needs_a_fitted_model():
    with pytest.raises(NotFittedError):
        NNRegressor().summary()


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "loss_curve, validation_scores, expected",
    [
        ([3.0, 1.0, 2.0], None, (2, "train loss", 1.0)),
        ([1.0, NAN, 0.5], None, (3, "train loss", 0.5)),  # NaN is not the lowest
        ([NAN, 2.0, -INF, 3.0], None, (2, "train loss", 2.0)),  # nor is -inf
        ([2.0, 1.0, 1.0], None, (2, "train loss", 1.0)),  # ties: the earliest
        ([3.0, 2.0, 1.0], [0.1, NAN, 0.3], (3, "valid score", 0.3)),
        ([3.0, 2.0, 1.0], [0.1, INF, 0.05], (1, "valid score", 0.1)),
        ([3.0, 2.0], [], (2, "train loss", 2.0)),  # no score yet: the loss decides
        ([NAN, NAN], None, (None, "train loss", None)),
        ([INF, -INF], None, (None, "train loss", None)),
        ([], None, (None, "train loss", None)),
        # The scores decide when there are any, even if none is finite.
        ([1.0, 0.5], [NAN, NAN], (None, "valid score", None)),
    ],
)
def test_find_best_epoch_never_picks_nan_or_inf(
    loss_curve, validation_scores, expected
):
    assert tuple(find_best_epoch(loss_curve, validation_scores)) == expected


def test_best_epoch_line_says_when_there_is_no_best():
    assert best_epoch_line([1.0, NAN, 0.5]) == "best epoch: 3 (train loss 0.500000)"
    assert best_epoch_line([1.0], [0.25]) == "best epoch: 1 (valid score 0.250000)"
    assert best_epoch_line([NAN, INF]) == "best epoch: none (no finite train loss)"
    assert best_epoch_line([1.0], [NAN]) == "best epoch: none (no finite valid score)"
    assert best_epoch_line([]) is None  # no epoch: no closing line


def test_verbose_fit_that_cannot_finish_an_epoch_prints_only_the_header(data, capsys):
    with pytest.raises(ValueError, match="before finishing one epoch"):
        _diverging_in_first_epoch(verbose=True).fit(*data)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "train", "loss", "best", "sec"]
    assert len(lines) == 2  # the header and its rule: no row, no closing line
