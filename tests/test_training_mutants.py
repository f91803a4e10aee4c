"""Rules of the training loop that the estimator-level tests left unchecked.

Each test here was written for a mutant of ``sknnlite/training.py`` that the
rest of the suite let survive (issue 20, see CONTRIBUTING "Mutation
testing"). They drive :class:`~sknnlite.training.TrainingLoop` directly, on
small data, so that the value they assert (a stop reason, a measured
objective, a history field) is the loop's own and not an estimator's.
"""

import math
import re
import warnings

import numpy as np
import pytest
from scipy import sparse

from sknnlite import LBFGS, SGD, Adam, Dense, Layer, Network, ReLU, SquaredError
from sknnlite.exceptions import DivergenceWarning
from sknnlite.training import (
    BatchGatherer,
    History,
    LoopSettings,
    StoppingRule,
    TrainingHook,
    TrainingLoop,
    batch_objective,
)


def _data(n_samples=60, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    y = scale * (X @ [1.0, -1.0, 0.5] + 0.1 * rng.normal(size=n_samples))
    return X, y[:, None]


def _loop(optimizer=None, hooks=(), seed=0, first=(), **overrides):
    """A new model's loop: ``first`` layers, Dense(8), ReLU, Dense(1) on 3 features."""
    rng = np.random.default_rng(seed)
    layers = [*first, Dense(8), ReLU(), Dense(1)]
    network = Network(layers).build(3, 1, rng, np.float64)
    optimizer = Adam() if optimizer is None else optimizer
    optimizer.initialize(network.coef)
    settings = dict(
        learning_rate=0.01, alpha=0.0, batch_size=60, max_epochs=5, tol=0.0,
        n_iter_no_change=1000, shuffle=True, early_stopping=False,
        validation_fraction=0.1, incremental=False, new_model=True,
    )  # fmt: skip
    settings.update(overrides)
    return TrainingLoop(
        network, SquaredError(), optimizer, LoopSettings(**settings), History(),
        rng, hooks=hooks,
    )  # fmt: skip


class StopAt(TrainingHook):
    """Stops training at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def epoch_end(self, loop, record):
        return record.epoch >= self.epoch


class RecordsWeights(TrainingHook):
    """Keeps a copy of the weights at the end of every epoch (or iterate)."""

    def __init__(self):
        self.ends = []

    def epoch_end(self, loop, record):
        self.ends.append(loop.network.coef.copy())


class Fails(Layer):
    """Identity layer; its ``at``-th training forward divides by zero or raises.

    ``how="divide"`` returns ``x / 0`` (infinite and NaN outputs, with NumPy's
    divide and invalid warnings); ``how="interrupt"`` raises
    KeyboardInterrupt, as a Ctrl-C outside the main thread does.
    """

    def __init__(self, at, how):
        self.at, self.how = at, how

    def build(self, n_inputs, rng, dtype):
        self.calls_ = 0
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self.calls_ += 1
            if self.calls_ == self.at and self.how == "interrupt":
                raise KeyboardInterrupt
            if self.calls_ >= self.at and self.how == "divide":
                return x / np.zeros_like(x)
        return x

    def backward(self, grad_out):
        return grad_out


class CountsEpochs(TrainingHook):
    """Overrides everything but ``epoch_end``, which keeps the base behaviour."""

    def __init__(self):
        self.begun = 0

    def epoch_begin(self, loop):
        self.begun += 1


# ------------------------------------------------------------------ History
def _validated_history():
    history = History()
    history.record(0.9, n_samples=10, validation=None)
    history.record(0.7, n_samples=10, validation=(0.8, 0.25))
    history.best_loss, history.best_validation_score = 0.7, 0.25
    history.initial_loss = 1.1
    return history


def test_history_copy_has_every_field_and_lists_of_its_own():
    history = _validated_history()
    copy = history.copy()
    assert copy == history
    copy.record(0.5, n_samples=10, validation=(0.6, 0.5))
    assert history.loss_curve == [0.9, 0.7]
    assert history.validation_scores[1:] == [0.25]
    assert history.validation_loss_curve[1:] == [0.8]


def test_history_truncate_drops_validation_lists_that_appeared_since():
    history = History()
    history.record(0.9, n_samples=10, validation=None)
    lengths = history.lengths()
    history.record(0.7, n_samples=10, validation=(0.8, 0.25))
    history.truncate(lengths)
    assert history.loss_curve == [0.9]
    assert history.validation_scores is None
    assert history.validation_loss_curve is None


def test_history_truncate_keeps_the_validation_entries_from_before():
    history = _validated_history()
    lengths = history.lengths()
    history.record(0.5, n_samples=10, validation=(0.6, 0.5))
    history.truncate(lengths)
    assert history.loss_curve == [0.9, 0.7]
    assert history.validation_scores[1:] == [0.25]
    assert history.validation_loss_curve[1:] == [0.8]


def test_a_hook_that_keeps_the_base_epoch_end_never_stops_training():
    hook = CountsEpochs()
    outcome = _loop(hooks=[hook], max_epochs=3).run(*_data())
    assert outcome.stop_reason == "max_iter"
    assert outcome.history.n_iter == hook.begun == 3


# ------------------------------------------------------------------ measure
def test_measure_is_the_data_loss_plus_the_l2_penalty():
    X, y = _data()
    loop = _loop(alpha=2.0, max_epochs=2)
    loop.run(X, y)
    network = loop.network
    data_loss = SquaredError().value(y, network.predict(X), None)
    penalty = network.l2_penalty(2.0 / X.shape[0])
    assert penalty > 0.01 * data_loss  # large enough to tell apart
    assert loop.measure() == pytest.approx(data_loss + penalty, rel=1e-12)
    assert loop.measure(penalty=False) == pytest.approx(data_loss, rel=1e-12)


def test_measuring_a_snapshot_leaves_the_current_weights_in_place():
    X, y = _data()
    loop = _loop(max_epochs=2)
    loop.run(X, y)
    network = loop.network
    current = network.coef.copy()
    other = network.snapshot()
    other[0][:] = 0.5 * current
    value = loop.measure(other)
    np.testing.assert_array_equal(network.coef, current)
    network.restore(other)
    assert value == loop.measure()


def test_measure_of_overflowing_weights_is_inf_without_a_numpy_warning():
    X, y = _data()
    loop = _loop(max_epochs=1)
    loop.run(X, y)
    loop.network.coef[:] = 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loop.measure() == math.inf


# ------------------------------------------------------------------ L-BFGS
def test_lbfgs_stopped_by_a_hook_reports_the_hook_and_no_warning():
    outcome = _loop(LBFGS(), hooks=[StopAt(2)], max_epochs=50).run(*_data())
    assert (outcome.stop_reason, outcome.warnings) == ("callback", [])
    assert outcome.history.n_iter == 2


def test_lbfgs_meeting_its_gradient_tolerance_has_converged():
    outcome = _loop(LBFGS(), max_epochs=500, tol=1e-2).run(*_data())
    assert (outcome.stop_reason, outcome.warnings) == ("converged", [])
    assert 1 < outcome.history.n_iter < 500


def test_lbfgs_out_of_iterations_says_max_iter():
    outcome = _loop(LBFGS(), max_epochs=3).run(*_data())
    assert outcome.stop_reason == "max_iter"
    [(category, message)] = outcome.warnings
    assert "L-BFGS stopped after 3 iterations" in message


def test_lbfgs_divergence_threshold_is_relative_to_a_large_reference():
    # Unscaled targets: the first objective is about 1e6, so an absolute
    # threshold of 1e4 (or 1e4 / 1e6) would call every iterate diverged.
    X, y = _data(scale=1000.0)
    loop = _loop(LBFGS(), max_epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        outcome = loop.run(X, y)
    assert loop._reference > 1e5
    assert outcome.stop_reason == "max_iter" and outcome.history.n_iter == 3


def test_lbfgs_on_overflowing_inputs_raises_without_a_numpy_warning():
    rng = np.random.default_rng(0)
    X = np.finfo(float).max * rng.uniform(size=(20, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="before finishing one epoch"):
            _loop(LBFGS()).run(X, rng.normal(size=(20, 1)))


def test_lbfgs_iterate_dividing_by_zero_diverges_once_without_a_numpy_warning():
    # The 6th objective evaluation divides by zero: SciPy's 5th iteration.
    X, y = _data()
    record = RecordsWeights()
    loop = _loop(LBFGS(), hooks=[record], first=[Fails(6, "divide")], max_epochs=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        outcome = loop.run(X, y)
    assert outcome.stop_reason == "diverged"
    [(category, message)] = outcome.warnings
    assert category is DivergenceWarning and "epoch 5" in message
    assert outcome.history.n_iter == len(record.ends) == 4
    np.testing.assert_array_equal(loop.network.coef, record.ends[-1])


def test_lbfgs_interrupted_in_a_line_search_keeps_the_last_iterate():
    X, y = _data()
    record = RecordsWeights()
    loop = _loop(LBFGS(), hooks=[record], first=[Fails(6, "interrupt")], max_epochs=50)
    outcome = loop.run(X, y)
    assert outcome.stop_reason == "interrupted"
    assert outcome.history.n_iter == len(record.ends) == 4
    np.testing.assert_array_equal(loop.network.coef, record.ends[-1])


# ------------------------------------------------------------- best weights
class InterruptAfter(TrainingHook):
    """Raises KeyboardInterrupt once epoch ``epoch`` is recorded."""

    def __init__(self, epoch):
        self.epoch = epoch

    def epoch_end(self, loop, record):
        if record.epoch == self.epoch:
            raise KeyboardInterrupt


def _measured(loop, coef):
    """The training objective of the weights ``coef``."""
    return loop.measure((coef, loop.network.snapshot()[1]))


@pytest.mark.parametrize("interrupted", [False, True])
def test_an_unstable_end_restores_the_end_of_the_best_epoch_when_lowest(interrupted):
    # Adam at learning_rate=3 oscillates: epoch 7 has the lowest loss, epoch 9
    # ends more than 3 times above it. Measured exactly, the end of epoch 7
    # is lower than its start and than the final weights.
    record = RecordsWeights()
    hooks = [record, InterruptAfter(9)] if interrupted else [record]
    loop = _loop(hooks=hooks, seed=42, learning_rate=3.0, batch_size=15, max_epochs=9)
    outcome = loop.run(*_data())
    ends = record.ends
    best, start, final = (_measured(loop, ends[i]) for i in (6, 5, 8))
    assert best < min(start, final)
    np.testing.assert_array_equal(loop.network.coef, ends[6])
    message = outcome.warnings[-1][1]
    assert "the end of epoch 7 measure lowest" in message
    assert f"(loss {best:.4g} against {final:.4g} at the end)" in message


def test_divergence_mid_epoch_restores_a_finished_epoch_not_the_partial_one():
    # 4 batches per epoch; the 2nd batch of epoch 4 is infinite. The weights
    # after its 1st batch belong to no finished epoch and are never kept.
    record = RecordsWeights()
    loop = _loop(hooks=[record], first=[Fails(14, "divide")], batch_size=15,
                 max_epochs=10)  # fmt: skip
    outcome = loop.run(*_data())
    assert outcome.stop_reason == "diverged" and outcome.history.n_iter == 3
    np.testing.assert_array_equal(loop.network.coef, record.ends[-1])


# ----------------------------------------------------------------- messages
# The warnings and errors are the loop's report to the user: the tests below
# pin their wording, and the boundary at which X counts as unscaled (a
# feature whose root mean square is above UNSCALED_INPUT = 10).
def _data_of_magnitude(magnitude):
    X, y = _data()
    # Column 0 at +-magnitude: its root mean square and the largest absolute
    # value are both `magnitude` (the other columns' are about 1 and below 4).
    X[:, 0] = magnitude * np.where(X[:, 0] < 0, -1.0, 1.0)
    return X, y


RATE = "try learning_rate=0.001 or smaller"
SCALED_CAUSE = (
    f"The most likely cause is a learning rate too large: {RATE}. If the features "
    "are not standardised, scale them first (e.g. StandardScaler in a Pipeline)."
)
UNSCALED_CAUSE = (
    "The features do not look scaled (the largest absolute value in X is 20): "
    "scale them, e.g. with StandardScaler in a Pipeline. If they are, the "
    f"learning rate is too large: {RATE}."
)


@pytest.mark.parametrize(
    "magnitude, causes", [(10.0, SCALED_CAUSE), (20.0, UNSCALED_CAUSE)]
)
def test_the_divergence_warning_names_the_kept_weights_and_the_causes(
    magnitude, causes
):
    record = RecordsWeights()
    loop = _loop(hooks=[record], first=[Fails(14, "divide")], batch_size=15,
                 max_epochs=10)  # fmt: skip
    outcome = loop.run(*_data_of_magnitude(magnitude))
    [(category, message)] = outcome.warnings
    kept = _measured(loop, record.ends[1])  # epoch 2 measures lowest
    reference = outcome.history.initial_loss
    assert category is DivergenceWarning
    head = "Training diverged in epoch 4: the loss reached (inf|nan)"
    tail = (
        f" (the reference, at the start of training, was {reference:.3g}). Training "
        "stopped; the weights at the end of epoch 2 had the lowest "
        f"training loss ({kept:.4g}) and were restored, and the optimizer state was "
        f"reset. {causes}"
    )
    assert re.fullmatch(head + re.escape(tail), message)


@pytest.mark.parametrize(
    "magnitude, causes",
    [
        (10.0, f"The learning rate is too large: {RATE}. (The features look "
               "scaled: the largest absolute value in X is 10.)"),
        (20.0, "The input data may contain very large values (the largest "
               "absolute value in X is 20): scale the features, e.g. with "
               f"StandardScaler in a Pipeline. Otherwise the learning rate is "
               f"too large: {RATE}."),
    ],
)  # fmt: skip
def test_a_new_model_diverging_in_its_first_epoch_says_why(magnitude, causes):
    # Two batches: the second fails, after an update.
    loop = _loop(first=[Fails(2, "divide")], batch_size=30)
    with pytest.raises(ValueError) as error:
        loop.run(*_data_of_magnitude(magnitude))
    head = r"Training diverged before finishing one epoch \(the loss reached \w+\), "
    tail = f"so there is no model to keep. {causes}"
    assert re.fullmatch(head + re.escape(tail), str(error.value))


BEFORE_ANY_UPDATE = (
    "The loss was not finite on the first batch, before any update, so the "
    "learning rate is not the cause"
)


@pytest.mark.parametrize(
    "magnitude, causes",
    [
        (10.0, f"{BEFORE_ANY_UPDATE}: layers[0] (Fails).forward returned NaN or inf "
               "for finite input rows. (The features look scaled: the largest "
               "absolute value in X is 10.)"),
        (20.0, "The input data may contain very large values (the largest "
               "absolute value in X is 20): scale the features, e.g. with "
               f"StandardScaler in a Pipeline. {BEFORE_ANY_UPDATE}: layers[0] "
               "(Fails).forward returned NaN or inf for finite input rows."),
    ],
)  # fmt: skip
def test_a_new_model_failing_on_its_first_batch_does_not_blame_the_rate(
    magnitude, causes
):
    loop = _loop(first=[Fails(1, "divide")])
    with pytest.raises(ValueError) as error:
        loop.run(*_data_of_magnitude(magnitude))
    head = r"Training diverged before finishing one epoch \(the loss reached \w+\), "
    tail = f"so there is no model to keep. {causes}"
    assert re.fullmatch(head + re.escape(tail), str(error.value))


def test_a_converged_fit_worse_than_a_constant_names_both_causes():
    # Targets near 100 (the loop does not standardise them) and a tiny step:
    # no epoch improves by tol, so training stops after n_iter_no_change + 2.
    # A warm fit counts only its own epochs. X at the boundary looks scaled.
    X, y = _data_of_magnitude(10.0)
    loop = _loop(learning_rate=1e-4, tol=1e9, n_iter_no_change=2, max_epochs=50)
    for call in (loop, _next_call(loop)):
        outcome = call.run(X, 100.0 + 0.1 * y)
        assert outcome.stop_reason == "converged"
        [(category, message)] = outcome.warnings
        assert message.endswith(
            "so its predictions are not meaningful. The learning rate may be too "
            "large (try learning_rate=1e-05 or smaller), or training stopped before "
            "it learned enough (it stopped after 4 epoch(s) without an improvement "
            "of tol=1000000000.0 for more than n_iter_no_change=2 epochs)."
        )
    assert outcome.history.n_iter == 8


def _next_call(loop, hooks=(), **overrides):
    """A loop for a later call on the same model (a warm fit or partial_fit)."""
    settings = {**vars(loop.settings), "new_model": False, **overrides}
    return TrainingLoop(
        loop.network, loop.loss, loop.optimizer, LoopSettings(**settings),
        loop.history, loop.rng, hooks=hooks,
    )  # fmt: skip


@pytest.mark.parametrize(
    "how, text",
    [
        ("divide", "Training stopped; this call's updates were undone, leaving the "
                   "model as it was."),
        ("interrupt", "Training interrupted by the user: the call was undone, "
                      "leaving the model as it was."),
    ],
)  # fmt: skip
def test_a_partial_fit_that_cannot_finish_says_it_was_undone(how, text):
    X, y = _data()
    fails = Fails(10**9, how)  # 1 batch per epoch: one training forward each
    loop = _loop(first=[fails], max_epochs=2)
    loop.run(X, y)
    fails.at = fails.calls_ + 1
    outcome = _next_call(loop, incremental=True, max_epochs=1).run(X, y)
    [(category, message)] = outcome.warnings
    assert text in message


def test_divergence_with_early_stopping_names_the_best_scoring_epoch():
    def score(output, targets, sample_weight):
        return -float(np.mean((output - targets) ** 2))

    loop = _loop(first=[Fails(6, "divide")], early_stopping=True,
                 validation_fraction=0.2, batch_size=48, max_epochs=10)  # fmt: skip
    outcome = loop.run(*_data(), score=score)
    assert outcome.stop_reason == "diverged"
    best = 1 + int(np.argmax(outcome.history.validation_scores))
    [(category, message)] = outcome.warnings
    assert (
        f"Training stopped; the weights of epoch {best}, the best validation score, "
        "were restored and the optimizer state was reset."
    ) in message


def test_early_stopping_stratifies_classes_of_two_rows():
    # Two classes of 2 rows each among 60: a stratified split holds out
    # exactly one row of each (a plain random split would not, here).
    X, _ = _data()
    labels = np.full(60, 2.0)
    labels[[0, 1]], labels[[2, 3]] = 0.0, 1.0
    held_out = []

    def score(output, targets, sample_weight):
        held_out.append(targets.ravel().copy())
        return 0.0

    loop = _loop(seed=5, early_stopping=True, validation_fraction=0.5,
                 batch_size=30, max_epochs=1)  # fmt: skip
    loop.run(X, labels[:, None], stratify=labels, score=score)
    counts = np.bincount(held_out[0].astype(int))
    assert counts.tolist() == [1, 1, 28]


def test_a_fit_better_than_a_constant_on_large_targets_is_not_called_worse():
    # Targets in the tens (not standardised): the epoch's running loss is
    # above the best constant's, so the loop measures the weights exactly,
    # and they fit better than the constant. The margin is relative.
    X, y = _data()
    y = 10.0 * y
    loop = _loop(learning_rate=0.1, batch_size=30, max_epochs=1)
    outcome = loop.run(X, y)
    null = SquaredError().value(y, np.full_like(y, y.mean()), None)
    assert null > 10.0
    assert outcome.history.loss_curve[-1] > null > loop.measure(penalty=False)
    [(category, message)] = outcome.warnings
    assert "max_iter=1" in message and "constant" not in message


def test_batch_objective_adds_the_l2_penalty_per_unit_of_batch_weight():
    # alpha / (2 W) * ||w||**2 with W the total sample weight (MLPRegressor's).
    X, y = _data(n_samples=8)
    weight = np.linspace(0.5, 2.0, 8)
    network = _loop().network
    value, total = batch_objective(network, SquaredError(), (X, y, weight), alpha=3.0)
    data_loss = SquaredError().value(y, network.predict(X), weight)
    assert total == pytest.approx(weight.sum())
    assert value == pytest.approx(data_loss + network.l2_penalty(3.0 / weight.sum()))


@pytest.mark.parametrize("sparse_X", [False, True])
def test_shuffled_batches_keep_the_rows_and_the_float32_dtype(sparse_X):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3)).astype(np.float32)
    y = rng.normal(size=(7, 2)).astype(np.float32)
    weight = rng.uniform(size=7).astype(np.float32)
    order = rng.permutation(7)
    data = sparse.csr_matrix(X) if sparse_X else X
    gatherer = BatchGatherer(data, y, weight, batch_size=3)
    # Copied as they come: shuffled batches share the gatherer's buffers.
    batches = [[array.copy() for array in batch] for batch in gatherer.batches(order)]
    assert [b[1].shape[0] for b in batches] == [3, 3, 1]
    for (x_batch, y_batch, w_batch), rows in zip(
        batches, (order[:3], order[3:6], order[6:]), strict=True
    ):
        x_batch = x_batch.toarray() if sparse_X else x_batch
        for array, expected in ((x_batch, X), (y_batch, y), (w_batch, weight)):
            assert array.dtype == np.float32
            np.testing.assert_array_equal(array, expected[rows])


@pytest.mark.parametrize("maximize", [False, True])
def test_stopping_rule_counts_epochs_that_improve_by_less_than_tol(maximize):
    # MLPRegressor's rule; with maximize the values are scores.
    sign = -1.0 if maximize else 1.0
    rule = StoppingRule(tol=0.1, patience=2, maximize=maximize)
    seen = []
    for value in [1.0, 0.5, 0.45, 0.44, 0.6, 0.43]:
        seen.append((rule.update(sign * value), rule.count, rule.exhausted))
    assert seen == [
        (True, 0, False),
        (True, 0, False),
        (True, 1, False),
        (True, 2, False),
        (False, 3, True),
        (True, 4, True),
    ]
    assert rule.best == sign * 0.43


def test_a_warm_call_keeps_the_models_first_objective():
    X, y = _data()
    loop = _loop(max_epochs=2)
    first = loop.run(X, y).history.initial_loss
    later = _next_call(loop).run(X, y)
    assert later.history.initial_loss == first
    assert later.history.loss_curve[-1] < 0.9 * first  # the model has moved on


class RecordsRates(TrainingHook):
    def __init__(self):
        self.rates = []

    def epoch_begin(self, loop):
        self.rates.append(loop.learning_rate)


def test_invscaling_sets_each_epochs_rate_from_the_base_rate():
    record = RecordsRates()
    loop = _loop(SGD(schedule="invscaling", power_t=0.5), hooks=[record],
                 max_epochs=3)  # fmt: skip
    loop.run(*_data())
    assert record.rates == pytest.approx([0.01, 0.01 / 61**0.5, 0.01 / 121**0.5])


class CountsRows(Layer):
    """Identity layer that needs 2 rows per training batch and records them."""

    min_batch_rows = 2

    def build(self, n_inputs, rng, dtype):
        self.rows_ = []
        return n_inputs

    def forward(self, x, training=False):
        if training:
            self.rows_.append(x.shape[0])
        return x

    def backward(self, grad_out):
        return grad_out


def test_a_last_batch_too_small_for_a_layer_joins_the_one_before():
    counts = CountsRows()
    _loop(first=[counts], batch_size=20, max_epochs=1).run(*_data(n_samples=41))
    assert counts.rows_ == [20, 21]


def test_a_warm_fit_interrupted_mid_epoch_keeps_its_last_finished_epoch():
    X, y = _data()
    fails = Fails(10**9, "interrupt")  # 1 batch per epoch: one training forward each
    loop = _loop(first=[fails], max_epochs=2)
    loop.run(X, y)
    fails.at = fails.calls_ + 3
    record = RecordsWeights()
    outcome = _next_call(loop, hooks=[record], max_epochs=5).run(X, y)
    assert outcome.stop_reason == "interrupted" and len(record.ends) == 2
    np.testing.assert_array_equal(loop.network.coef, record.ends[-1])
