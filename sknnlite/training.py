"""The training loop: one :class:`TrainingLoop` per ``fit`` or ``partial_fit`` call.

The loop owns an epoch from start to end, for every optimizer: shuffle, then
for each batch forward, loss, backward, step; then validate, record and
judge. It reports through hooks (the verbose table, scikit-learn callbacks)
that only read its history, and returns an :class:`Outcome` that the
estimator copies into its fitted attributes. Nothing here knows about
scikit-learn estimators.

The rules, each decided here and only here:

* **Loss.** An epoch's loss is the weighted mean of its batch objectives,
  each measured before that batch's update. A batch objective is the data
  loss plus the L2 penalty ``alpha / (2 * batch weight) * ||W||**2`` (as in
  MLPRegressor). Every comparison below is between two such objectives.
* **Stopping** (MLPRegressor's rule). An epoch improves when its loss falls
  by at least ``tol`` below the best so far (or, with early stopping, its
  validation score rises by at least ``tol``); training stops once more than
  ``n_iter_no_change`` epochs in a row did not. ``partial_fit`` never stops.
  L-BFGS stops by SciPy's own tests (``gtol=tol``, ``max_iter``,
  ``max_fun``), and by the validation rule with early stopping.
* **Divergence.** A batch objective that is not finite, or an epoch loss
  above :data:`DIVERGENCE_FACTOR` times the reference (the larger of the
  call's first batch objective and the model's very first one) and times
  the loss of the best constant output on the call's training rows (the
  first batch may not represent the data), stops
  training at once. ``fit`` restores the best weights and resets the
  optimizer; ``partial_fit`` undoes the call. A ``partial_fit`` call that
  finds the model already diverged by an earlier call's last update (which
  that call could not measure) warns and is skipped. A new model that diverges
  before finishing one epoch raises ``ValueError``.
* **Best weights.** With early stopping, the weights at the end of the
  epoch with the best validation score (measured on exactly those weights).
  Otherwise the loop keeps the weights at the start and at the end of the
  epoch with the lowest loss, and when it must choose, measures the training
  objective of each candidate and of the current weights exactly
  (:meth:`TrainingLoop.measure`), and keeps the lowest.
* **Unstable end.** When ``fit`` ends (plateau, ``max_iter``, interruption)
  with a last epoch loss more than :data:`UNSTABLE_FACTOR` times the best
  epoch's, the best weights are restored if they measure lower; with a
  warning that names the learning rate when the rise gave back more than
  :data:`UNSTABLE_SHARE` of the gain over the untrained model's loss.
* **Interruption.** ``KeyboardInterrupt`` stops training after the current
  step; the unfinished epoch is undone, the rules above choose the weights,
  and the call returns with a warning. With nothing to keep (no finished
  epoch on a new model, or a ``partial_fit`` call) the model is left as it
  was, and a new model re-raises.
* **Failure.** Any other exception puts the network, the optimizer and the
  random generators back as they were at the start of the call, and
  propagates.
"""

import functools
import math
import signal
import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches

from .exceptions import DivergenceWarning
from .network import _layer_name

__all__ = [
    "BatchGatherer",
    "batch_objective",
    "DIVERGENCE_FACTOR",
    "EpochRecord",
    "History",
    "LoopSettings",
    "Outcome",
    "StepPlan",
    "StoppingRule",
    "TrainingHook",
    "TrainingLoop",
    "UNSTABLE_FACTOR",
    "UNSTABLE_SHARE",
]

#: An epoch loss this many times the reference counts as divergence.
DIVERGENCE_FACTOR = 1e4

#: A fit that ends with a loss this many times its best epoch's keeps the
#: weights that measure lowest;
UNSTABLE_FACTOR = 3.0
#: it is unstable, and warned about, if the rise also gives back more than this
#: share of what training gained on the untrained model's loss (a fit that
#: reached a loss near 0 wobbles by large factors at its floor; that is not
#: instability).
UNSTABLE_SHARE = 0.25

#: Whether mini-batch epochs take their steps through a :class:`StepPlan`
#: and ``Optimizer.step_function`` (False: every batch through
#: :func:`batch_objective` and ``Optimizer.step``; the results are the same
#: bit for bit, which the tests check by switching this off).
USE_STEP_PLAN = True

#: Stop reasons chosen by the user (a callback, Ctrl-C), not by training.
USER_STOPS = ("callback", "interrupted")

#: A fitted network whose training loss is above this many times the loss of
#: the best constant output learned less than nothing.
CONSTANT_MARGIN = 1.01

#: ``partial_fit`` on features that do not look scaled warns when a call's loss
#: is above this many times a constant output's (untrained networks on scaled
#: features start up to ~3 times above it in scikit-learn's estimator checks).
UNSCALED_STREAM_FACTOR = 10.0

#: A last epoch's loss within this share of the first epoch's counts as no
#: progress (a sum of the same losses in another order differs by rounding).
NO_PROGRESS_RTOL = 1e-9

#: Training rows whose predictions are checked for NaN or inf at the end of fit.
INFERENCE_CHECK_ROWS = 64

#: Rows of the first batch also run through inference, for the same check.
INFERENCE_PROBE_ROWS = 8

#: A fitted network whose outputs over the training rows spread less than
#: this times the targets' spread is a constant model (dead or saturated
#: units give a spread of 0 or of rounding, 1e-12; healthy ones, of the
#: targets' order).
CONSTANT_OUTPUT_RTOL = 1e-6

#: An L2 penalty ``alpha`` from this on is named as the likely cause of a
#: constant model (the default is 0.0001; at 30 the weights shrink to 0).
LARGE_ALPHA = 1.0

#: Features whose root mean square is above this do not look standardised (a
#: standardised feature's is 1, however heavy its tails: the largest value of
#: standardised breast_cancer is 12.1); failure messages then name the data
#: first.
UNSCALED_INPUT = 10.0


@dataclass
class LoopSettings:
    """What a training call does, resolved by the estimator from its parameters.

    Attributes
    ----------
    learning_rate, alpha, tol : float
        As the estimator parameters of the same name.
    batch_size : int or "auto"
        ``"auto"`` is ``min(200, n_samples)``; larger sizes are clipped.
    max_epochs : int
        Epochs (L-BFGS: iterations) this call may run.
    n_iter_no_change : int or float
        Patience of the stopping rule; ``math.inf`` never stops early.
    shuffle : bool
        Reshuffle the rows every epoch.
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows and judge by their score.
    validation_fraction : float
        Share of rows held out with early stopping.
    incremental : bool
        ``partial_fit``: one epoch, no stopping rule, no validation.
    new_model : bool
        The network was built for this call (nothing to fall back to).

    Examples
    --------
    The settings ``NNRegressor()`` resolves for ``fit``:

    >>> from sknnlite.training import LoopSettings
    >>> settings = LoopSettings(learning_rate=0.001, alpha=0.0001, batch_size="auto",
    ...                         max_epochs=200, tol=1e-4, n_iter_no_change=10,
    ...                         shuffle=True, early_stopping=False,
    ...                         validation_fraction=0.1, incremental=False,
    ...                         new_model=True)
    >>> settings.max_epochs, settings.incremental
    (200, False)
    """

    learning_rate: float
    alpha: float
    batch_size: object
    max_epochs: int
    tol: float
    n_iter_no_change: float
    shuffle: bool
    early_stopping: bool
    validation_fraction: float
    incremental: bool
    new_model: bool


@dataclass
class History:
    """What training has recorded, over every call on one model.

    ``loss_curve`` has one entry per finished epoch (``n_iter`` of them).
    The validation lists are ``None`` until an epoch is validated; from then
    on they have one entry per epoch too, NaN for epochs not validated.

    Examples
    --------
    >>> from sknnlite.training import History
    >>> history = History()
    >>> history.record(0.9, n_samples=100, validation=None)
    >>> history.record(0.7, n_samples=100, validation=(0.8, 0.25))
    >>> history.n_iter, history.t, history.loss_curve, history.validation_scores
    (2, 200, [0.9, 0.7], [nan, 0.25])
    """

    n_iter: int = 0
    t: int = 0
    loss_curve: list = field(default_factory=list)
    validation_scores: list = None
    validation_loss_curve: list = None
    best_loss: float = None
    best_validation_score: float = None
    initial_loss: float = None
    #: Whether ``partial_fit`` has warned that its data look unscaled.
    warned_unscaled: bool = False

    def lengths(self):
        """The lengths of the lists (None for absent ones), for :meth:`truncate`."""
        scores = self.validation_scores
        return len(self.loss_curve), None if scores is None else len(scores)

    def truncate(self, lengths):
        """Drop what was appended since :meth:`lengths` was taken."""
        curve, validated = lengths
        del self.loss_curve[curve:]
        if validated is None:
            self.validation_scores = self.validation_loss_curve = None
        elif self.validation_scores is not None:
            del self.validation_scores[validated:]
            del self.validation_loss_curve[validated:]

    def copy(self):
        """A copy whose lists can grow without changing this one."""
        return History(
            self.n_iter,
            self.t,
            list(self.loss_curve),
            _copy_list(self.validation_scores),
            _copy_list(self.validation_loss_curve),
            self.best_loss,
            self.best_validation_score,
            self.initial_loss,
            self.warned_unscaled,
        )

    def record(self, loss, n_samples, validation):
        """Append one epoch; ``validation`` is ``(loss, score)`` or None."""
        self.n_iter += 1
        self.t += n_samples
        self.loss_curve.append(loss)
        if validation is not None and self.validation_scores is None:
            self.validation_scores = [math.nan] * (self.n_iter - 1)
            self.validation_loss_curve = [math.nan] * (self.n_iter - 1)
        if self.validation_scores is not None:
            val_loss, score = (math.nan, math.nan) if validation is None else validation
            self.validation_loss_curve.append(val_loss)
            self.validation_scores.append(score)


def _copy_list(values):
    return None if values is None else list(values)


@dataclass
class EpochRecord:
    """One finished epoch, as hooks see it.

    Examples
    --------
    A hook that keeps the loss of every epoch it is shown:

    >>> from sknnlite.training import EpochRecord, TrainingHook
    >>> class Losses(TrainingHook):
    ...     def __init__(self):
    ...         self.seen = []
    ...
    ...     def epoch_end(self, loop, record):
    ...         self.seen.append((record.epoch, record.loss))
    >>> hook = Losses()
    >>> hook.epoch_end(None, EpochRecord(epoch=1, loss=0.5))
    >>> hook.seen
    [(1, 0.5)]
    """

    epoch: int
    loss: float
    validation_loss: float = None
    validation_score: float = None
    is_best: bool = False
    seconds: float = 0.0


@dataclass
class Outcome:
    """What one call did: the history to commit and the warnings to show.

    Examples
    --------
    See :class:`TrainingLoop`, whose ``run`` returns one.

    >>> from sknnlite.training import History, Outcome
    >>> Outcome(History()).stop_reason
    'max_iter'
    """

    history: History
    warnings: list = field(default_factory=list)
    stop_reason: str = "max_iter"


class TrainingHook:
    """Base of the objects that watch training; every method does nothing.

    Hooks read the loop (``loop.history``, ``loop.network``) and never
    change it; :meth:`epoch_end` may ask training to stop.

    Examples
    --------
    A hook that stops training once the loss falls below a threshold:

    >>> from sknnlite.training import TrainingHook
    >>> class StopBelow(TrainingHook):
    ...     def __init__(self, threshold):
    ...         self.threshold = threshold
    ...
    ...     def epoch_end(self, loop, record):
    ...         return record.loss < self.threshold

    See :class:`TrainingLoop` for a loop that runs with it.

    """

    def train_begin(self, loop, with_validation):
        """Called once, before the first epoch."""

    def epoch_begin(self, loop):
        """Called before each epoch (L-BFGS: each iteration)."""

    def epoch_end(self, loop, record):
        """Called after each recorded epoch; return True to stop training."""
        return False

    def message(self, loop, text):
        """A remark worth showing in a verbose log (learning-rate changes)."""

    def train_end(self, loop):
        """Called once, after the weights to keep are in place."""


class StoppingRule:
    """MLPRegressor's no-improvement counter.

    Parameters
    ----------
    tol : float
        Smallest gain that counts as an improvement.
    patience : int or float
        Stop once more than this many epochs in a row did not improve.
    maximize : bool
        Judge a score (higher is better) instead of a loss.

    Examples
    --------
    With ``patience=2`` training stops at the third epoch in a row that
    improves the loss by less than ``tol``:

    >>> from sknnlite.training import StoppingRule
    >>> rule = StoppingRule(tol=0.1, patience=2, maximize=False)
    >>> for loss in [1.0, 0.5, 0.45, 0.44, 0.43]:
    ...     new_best = rule.update(loss)
    ...     print(loss, new_best, rule.count, rule.exhausted)
    1.0 True 0 False
    0.5 True 0 False
    0.45 True 1 False
    0.44 True 2 False
    0.43 True 3 True
    """

    def __init__(self, tol, patience, maximize):
        self.tol, self.patience, self.maximize = tol, patience, maximize
        self.best = -math.inf if maximize else math.inf
        self.count = 0

    def update(self, value):
        """Count one epoch's value; returns True if it is the best so far.

        A NaN value never improves: it counts as an epoch without progress.
        """
        gain = value - self.best if self.maximize else self.best - value
        self.count = 0 if gain >= self.tol else self.count + 1
        if gain > 0:
            self.best = value
            return True
        return False

    @property
    def exhausted(self):
        """True once more than ``patience`` epochs in a row did not improve."""
        return self.count > self.patience


class BatchGatherer:
    """Copies shuffled rows of ``X``, ``y`` and weights into reused buffers.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
    batch_size : int
    min_rows : int, default=1
        Fewest rows a batch may have: a smaller remainder is folded into
        the batch before it (as ``sklearn.utils.gen_batches`` does), so
        the last batch may have up to ``batch_size + min_rows - 1`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite.training import BatchGatherer
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5.0).reshape(5, 1)
    >>> gatherer = BatchGatherer(X, y, None, batch_size=2)
    >>> backwards = np.arange(5)[::-1]
    >>> [y_batch.ravel().tolist() for _, y_batch, _ in gatherer.batches(backwards)]
    [[4.0, 3.0], [2.0, 1.0], [0.0]]
    """

    def __init__(self, X, y, sample_weight, batch_size, min_rows=1):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size, self.min_rows = batch_size, min_rows
        rows = batch_size + min_rows - 1
        self._x_buf = (
            None if sparse.issparse(X) else np.empty((rows, X.shape[1]), dtype=X.dtype)
        )
        self._y_buf = np.empty((rows, y.shape[1]), dtype=y.dtype)
        self._w_buf = (
            None if sample_weight is None else np.empty(rows, dtype=sample_weight.dtype)
        )

    def batches(self, order):
        """Yield ``(X_batch, y_batch, weight_batch)`` following ``order``.

        ``order`` is a permutation of the rows, or ``None`` for row order;
        its entries are not range-checked.
        """
        n_samples = self.y.shape[0]
        for rows in gen_batches(
            n_samples, self.batch_size, min_batch_size=self.min_rows
        ):
            if order is None:
                yield self._slice(rows)
            else:
                yield self._take(order[rows])

    def _slice(self, rows):
        """Contiguous batch: views, no copy."""
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return self.X[rows], self.y[rows], weight

    def _take(self, index):
        """Shuffled batch gathered into the preallocated buffers."""
        n = index.shape[0]
        # The rows come from a permutation, so always in range: "clip" only
        # spares take the copy through a temporary it makes with out= in its
        # default mode "raise" (3.7 instead of 15.5 us for 200 x 50 float64).
        if self._x_buf is None:
            x = self.X[index]
        else:
            x = self.X.take(index, axis=0, out=self._x_buf[:n], mode="clip")
        y = self.y.take(index, axis=0, out=self._y_buf[:n], mode="clip")
        weight = None
        if self._w_buf is not None:
            weight = self.sample_weight.take(index, out=self._w_buf[:n], mode="clip")
        return x, y, weight


def batch_objective(network, loss, batch, alpha, check=False):
    """Training objective of one batch, and its gradient in ``network.grad``.

    The objective is the data loss plus the L2 penalty ``alpha / (2 * W) *
    ||w||**2`` on the penalised parameters, ``W`` being the batch's total
    sample weight (its row count without weights), as in MLPRegressor. Every
    path that trains or checks gradients computes it here.

    Parameters
    ----------
    network : Network
        A built network; ``network.grad`` is overwritten.
    loss : Loss
        The data loss.
    batch : tuple of (X, y, sample_weight)
        ``X`` of shape (n_samples, n_features), ``y`` of shape (n_samples,
        n_outputs), ``sample_weight`` of shape (n_samples,) or None.
    alpha : float
        L2 penalty strength.
    check : bool, default=False
        Check the layer contract on this batch (gradients written in place).

    Returns
    -------
    value : float
        The objective; ``0.0`` for a batch of zero weight (nothing computed).
    batch_weight : float
        The batch's total sample weight.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, Network, SquaredError
    >>> from sknnlite.training import batch_objective
    >>> rng = np.random.default_rng(0)
    >>> network = Network([Dense(1)]).build(2, 1, rng, np.float64)
    >>> network.coef[:] = [1.0, 1.0, 0.0]  # W = [[1], [1]], b = 0
    >>> X, y = np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([[3.0], [2.0]])
    >>> batch = (X, y, None)
    >>> value, weight = batch_objective(network, SquaredError(), batch, alpha=0.5)
    >>> value, weight  # 0.5 * (0 + 1) / 2 + 0.5 / (2 * 2) * (1 + 1)
    (0.5, 2.0)
    >>> network.grad
    array([ 0.25, -0.25, -0.5 ])
    """
    x, y, weight = batch
    batch_weight = float(y.shape[0] if weight is None else weight.sum())
    if batch_weight <= 0:
        return 0.0, 0.0
    output = network.forward(x, training=True, sample_weight=weight, check=check)
    value, grad_output = loss.value_and_gradient(y, output, weight)
    network.backward(grad_output, check=check)
    if alpha:
        value += network.add_l2_penalty(alpha / batch_weight)
    return value, batch_weight


class StepPlan:
    """:func:`batch_objective` for unweighted batches, resolved once per epoch.

    For each batch size it meets (two at most in an epoch), it resolves once
    the network's :meth:`~sknnlite.network.Network.training_pass`, the loss
    and the L2 penalty, so that a training step runs the layers' arithmetic
    without lookups, checks or allocations. The objective, the gradient in
    ``network.grad`` and every buffer's contents are those of
    :func:`batch_objective` bit for bit. It does not check the layer
    contract: the loop computes the call's first batch with
    :func:`batch_objective` for that.

    Use :meth:`make`; it returns None for a network with a layer that takes
    per-batch extras (``BatchNorm``, ``Dropout``).

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite import Dense, Network, ReLU, SquaredError
    >>> from sknnlite.training import StepPlan, batch_objective
    >>> rng = np.random.default_rng(0)
    >>> network = Network([Dense(4), ReLU(), Dense(1)]).build(3, 1, rng, np.float64)
    >>> batch = (rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), None)
    >>> plan = StepPlan.make(network, SquaredError(), alpha=1e-4)
    >>> value, weight = plan(batch)
    >>> grad = network.grad.copy()
    >>> (value, weight) == batch_objective(network, SquaredError(), batch, 1e-4)
    True
    >>> bool(np.array_equal(grad, network.grad))
    True
    """

    __slots__ = ("_network", "_loss", "_alpha", "_sparse_input", "_by_rows")

    def __init__(self, network, loss, alpha, sparse_input):
        self._network, self._loss, self._alpha = network, loss, alpha
        self._sparse_input = sparse_input
        self._by_rows = {}

    @classmethod
    def make(cls, network, loss, alpha, sparse_input=False):
        """A plan for ``network``, or None where one does not apply."""
        if network.takes_batch_extras:
            return None
        return cls(network, loss, alpha, sparse_input)

    def __call__(self, batch):
        """``(value, batch_weight)`` of ``batch = (X, y, None)``, as batch_objective."""
        x, y, _ = batch
        resolved = self._by_rows.get(y.shape[0])
        if resolved is None:
            resolved = self._by_rows[y.shape[0]] = self._resolve(*y.shape)
        passes, loss, add_penalty, batch_weight = resolved
        value, grad_output = loss(y, passes.forward(x))
        passes.backward(grad_output)
        if add_penalty is not None:
            value += add_penalty()
        return value, batch_weight

    def _resolve(self, n_rows, n_outputs):
        """Everything a step of ``n_rows`` rows needs, looked up once."""
        network = self._network
        passes = network.training_pass(n_rows, self._sparse_input)
        loss = self._loss._unweighted(n_rows, n_outputs, network.dtype)
        batch_weight = float(n_rows)
        add_penalty = None
        if self._alpha:
            add_penalty = network.l2_penalty_adder(self._alpha / batch_weight)
        return passes, loss, add_penalty, batch_weight


class TrainingLoop:
    """Trains a network for one ``fit`` or ``partial_fit`` call.

    Parameters
    ----------
    network : Network
        A built network, trained in place.
    loss : Loss
        The loss to minimise, on encoded targets.
    optimizer : Optimizer
        An optimizer initialised for ``network.coef``.
    settings : LoopSettings
        What this call does.
    history : History
        What earlier calls recorded. The loop appends to its lists; if the
        call fails they are cut back to their lengths at the start.
    rng : numpy.random.Generator
        Source of the shuffles and the validation split.
    hooks : list of TrainingHook, default=()
        Watchers of training (verbose table, callbacks).

    Attributes
    ----------
    history : History
        The history, grown by this call.
    learning_rate : float
        The rate of the current epoch (schedules change it).

    Examples
    --------
    The loop trains a bare network, without an estimator (the estimators do
    this in ``fit``, after standardising the target):

    >>> import numpy as np
    >>> from sknnlite import Adam, Dense, Network, ReLU, SquaredError
    >>> from sknnlite.training import History, LoopSettings, TrainingHook, TrainingLoop
    >>> class StopBelow(TrainingHook):
    ...     def epoch_end(self, loop, record):
    ...         return record.loss < 0.05
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X @ [1.0, -1.0, 0.5])[:, None]
    >>> network = Network([Dense(16), ReLU(), Dense(1)]).build(3, 1, rng, np.float64)
    >>> optimizer = Adam()
    >>> optimizer.initialize(network.coef)
    >>> settings = LoopSettings(learning_rate=0.01, alpha=0.0, batch_size=50,
    ...                         max_epochs=500, tol=1e-4, n_iter_no_change=10,
    ...                         shuffle=True, early_stopping=False,
    ...                         validation_fraction=0.1, incremental=False,
    ...                         new_model=True)
    >>> loop = TrainingLoop(network, SquaredError(), optimizer, settings, History(),
    ...                     rng, hooks=[StopBelow()])
    >>> outcome = loop.run(X, y)
    >>> outcome.stop_reason, outcome.history.loss_curve[-1] < 0.05, outcome.warnings
    ('callback', True, [])
    """

    def __init__(self, network, loss, optimizer, settings, history, rng, hooks=()):
        self.network, self.loss, self.optimizer = network, loss, optimizer
        self.settings = settings
        self.history = history
        self.rng = rng
        self.hooks = list(hooks)
        self.learning_rate = settings.learning_rate
        self.warnings = []
        self.stop_reason = "max_iter"

    # ------------------------------------------------------------ the call
    def run(self, X, targets, sample_weight=None, stratify=None, score=None):
        """Train on ``(X, targets, sample_weight)``; returns an :class:`Outcome`.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
        targets : ndarray of shape (n_samples, n_outputs)
            Encoded targets, in the network's dtype.
        sample_weight : ndarray of shape (n_samples,) or None
        stratify : ndarray of shape (n_samples,) or None
            Labels to stratify the validation split by.
        score : callable or None
            ``score(output, targets, sample_weight) -> float``, higher is
            better; required with early stopping.

        Raises
        ------
        ValueError
            If a new model diverges before finishing one epoch, or the
            validation split is too small.
        KeyboardInterrupt
            If interrupted with nothing to keep (see the module docstring).
        """
        self._score = score
        self._call_start = None if self.settings.new_model else _Checkpoint(self)
        lengths = self.history.lengths()
        # Predictions in other threads wait for the whole call (see
        # Network.training), so they never see a half-applied step.
        with self.network.training():
            try:
                with _InterruptGuard() as self._interrupt:
                    self._train(X, targets, sample_weight, stratify)
            except BaseException:
                self.history.truncate(lengths)
                if self._call_start is not None:
                    self._call_start.restore()
                raise
        return Outcome(self.history, self.warnings, self.stop_reason)

    def _train(self, X, targets, sample_weight, stratify):
        """Split, run the epochs, then settle on the weights to keep."""
        self._inputs, self._input_stats = X, None  # read by messages, if any
        train, validation = self._split(X, targets, sample_weight, stratify)
        self._prepare(train, validation)
        for hook in self.hooks:
            hook.train_begin(self, validation is not None)
        try:
            if self.optimizer.full_batch:
                self._run_full_batch(train, validation)
            else:
                self._run_epochs(train, validation)
        except KeyboardInterrupt:
            if not self._keep_after_interrupt():
                raise
        self._settle(train)
        for hook in self.hooks:
            hook.train_end(self)

    def _prepare(self, train, validation):
        """Per-call state: stopping rule, snapshots, divergence reference."""
        by_score = validation is not None
        self._rule = StoppingRule(
            self.settings.tol, self.settings.n_iter_no_change, maximize=by_score
        )
        self._first_n_iter = self.history.n_iter
        self._reference = None
        self._train_data, self._constant_reference = train, None
        self._broken_on_arrival = None
        self._first_batch = True
        # Later partial_fit calls skip the probe: online learning pays per call.
        self._probe_inference = self.settings.new_model or not self.settings.incremental
        self._pool, self._best_start, self._best_end = [], None, None
        self._best_end_is_next = False
        self._best_loss, self._best_epoch = math.inf, None
        self._in_epoch = False
        self._epoch_start = None
        self._clock = time.perf_counter()
        min_rows, where = _min_batch_rows(self.network)
        batch_size = self._batch_size(train[1].shape[0], min_rows, where)
        self.gatherer = BatchGatherer(*train, batch_size, min_rows)
        self._order = np.arange(train[1].shape[0])
        self._check_rows = train[0][:INFERENCE_CHECK_ROWS]

    def _split(self, X, targets, sample_weight, stratify):
        """Hold out ``validation_fraction`` of the rows when early stopping.

        Only rows of positive weight are held out, so that the validation
        score weighs every held-out row (meta-estimators such as
        ``BaggingRegressor`` give many rows weight 0); rows of weight 0 stay
        in the training part, where they teach nothing. The split is
        stratified by ``stratify`` when every class can have a row on each
        side, and plain random otherwise.
        """
        settings = self.settings
        if not settings.early_stopping or settings.incremental:
            return (X, targets, sample_weight), None
        weighted = sample_weight is not None
        n_samples = targets.shape[0]
        rows = np.flatnonzero(sample_weight > 0) if weighted else np.arange(n_samples)
        n_held = math.ceil(settings.validation_fraction * rows.size)
        if n_held < 2 or rows.size - n_held < 1:
            raise ValueError(self._split_size_message(n_held, rows.size, weighted))
        labels = None if stratify is None else stratify[rows]
        train_rows, held_rows = train_test_split(
            rows,
            test_size=settings.validation_fraction,
            # The loop's own stream, as MLP's split draws from its random state.
            random_state=np.random.RandomState(self.rng.bit_generator),
            stratify=_stratify_if_possible(labels, n_held, rows.size),
        )
        if weighted:
            train_rows = np.concatenate(
                [train_rows, np.flatnonzero(sample_weight == 0)]
            )
        data = (X, targets, sample_weight)
        return _take_rows(data, train_rows), _take_rows(data, held_rows)

    def _split_size_message(self, n_held, n_rows, weighted):
        """Why ``validation_fraction`` cannot split ``n_rows`` rows, and the fix."""
        counted = " of positive sample_weight" if weighted else ""
        return (
            f"validation_fraction={self.settings.validation_fraction} leaves "
            f"{n_held} validation sample(s) and {n_rows - n_held} to train on, out "
            f"of {n_rows} samples{counted}; early stopping needs at least 2 "
            "validation samples and 1 to train on. Choose a validation_fraction "
            "that leaves both, or set early_stopping=False."
        )

    def _batch_size(self, n_samples, min_rows=1, where=None):
        """``"auto"`` is ``min(200, n_samples)``; larger sizes are clipped.

        Raises ``ValueError`` when the layer ``where`` needs more rows in a
        training batch (its ``min_batch_rows``) than the data or
        ``batch_size`` give.
        """
        if n_samples < min_rows:
            raise ValueError(self._too_few_rows_message(n_samples, min_rows, where))
        batch_size = self.settings.batch_size
        if batch_size == "auto":
            return min(200, n_samples)
        if batch_size < min_rows and not self.optimizer.full_batch:
            raise ValueError(
                f"batch_size={batch_size} is too small for {where}, which computes "
                f"statistics over each training batch and needs at least {min_rows} "
                f"rows in one (a single row has no variance). Use batch_size="
                f"{min_rows} or more."
            )
        if batch_size > n_samples and not self.optimizer.full_batch:
            self.warnings.append(
                (
                    UserWarning,
                    f"batch_size={batch_size} is larger than the {n_samples} "
                    f"training samples; using batch_size={n_samples}.",
                )
            )
        return min(batch_size, n_samples)

    def _too_few_rows_message(self, n_samples, min_rows, where):
        """Why ``n_samples`` training rows cannot make one batch, and the fix."""
        settings = self.settings
        if settings.incremental:
            call, fix = "partial_fit", f"pass chunks of at least {min_rows} rows"
        elif settings.early_stopping:
            call = "fit (after holding out the validation samples)"
            fix = "give more samples or set early_stopping=False"
        else:
            call, fix = "fit", f"give at least {min_rows} samples"
        return (
            f"{call} got {n_samples} sample(s) to train on, but {where} computes "
            f"statistics over each training batch and needs at least {min_rows} "
            f"rows in one. To train, {fix}; the model is left as it was."
        )

    # ------------------------------------------------------- mini-batches
    def _run_epochs(self, train, validation):
        """The epochs of SGD and Adam, until a rule stops them."""
        n_train = train[1].shape[0]
        for _ in range(self.settings.max_epochs):
            self._begin_epoch()
            loss = self._train_epoch()
            if loss is None:  # diverged: already handled
                return
            if self._end_epoch(loss, n_train, validation):
                return
        self.stop_reason = "max_iter"

    def _begin_epoch(self):
        """Snapshot the weights the epoch starts from; set its learning rate."""
        self._take_epoch_start()
        self.learning_rate = self.optimizer.epoch_learning_rate(
            self.settings.learning_rate, self.learning_rate, self.history.t
        )
        self._in_epoch = True
        for hook in self.hooks:
            hook.epoch_begin(self)

    def _train_epoch(self):
        """One pass over shuffled batches; the epoch loss, or None if diverged."""
        order = None
        if self.settings.shuffle:
            # Each epoch permutes the previous epoch's order, as MLP does, so a
            # seeded fit visits rows in MLP's order. Shuffling in place makes
            # the swaps MLP's permutation of ``arange`` makes, without a gather.
            order = self._order
            self.rng.shuffle(order)
        total = weight = 0.0
        step, plan = self._step_plan()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for batch in self.gatherer.batches(order):
                value, batch_weight = self._objective(batch, plan)
                if batch_weight == 0:
                    continue  # a batch of zero weight teaches nothing
                if not math.isfinite(value):
                    return self._diverged(value)
                step(self.learning_rate)
                # Batches count by their rows, as in MLP: with sample weights
                # the epoch loss is the row-weighted mean of the batches'
                # weighted losses (each batch's own weights inside it).
                rows = batch[1].shape[0]
                total += value * rows
                weight += rows
                self._check_interrupt()
        if weight == 0:
            raise ValueError(
                "Every training sample has zero weight in this pass, so there is "
                "nothing to learn from. Give some samples a positive sample_weight."
            )
        loss = total / weight
        if self._beyond_divergence_bound(loss):
            return self._diverged(loss)
        return loss

    def _beyond_divergence_bound(self, loss):
        """Whether an epoch loss is far enough above the references to diverge.

        The first batch's objective is the quick reference; it may not
        represent the data (one target of 1e8 with a robust loss sits in
        another batch and makes the epoch loss 2e4 times the first batch's).
        So a loss above it is also compared with the loss of the best
        constant output on the call's training rows, computed then (one pass
        over the targets, only when the first test fires).
        """
        bound = DIVERGENCE_FACTOR * self._reference
        if loss <= bound:
            return False
        if not math.isfinite(loss):
            return True
        return not loss <= DIVERGENCE_FACTOR * self._constant_output_loss()

    def _constant_output_loss(self):
        """The larger loss of two constant outputs on the call's rows, once.

        The best constant (:meth:`_constant_loss`) and the output 0, where
        the target scaling puts the center the model started from (for a
        classifier, uniform probabilities). A ``partial_fit`` chunk of one
        row is fitted exactly by the first, not by the second: a chunk whose
        targets are far from what the model has seen still gives a large
        reference.
        """
        if self._constant_reference is None:
            _, targets, weight = self._train_data
            zero = np.zeros(targets.shape, dtype=targets.dtype)
            with np.errstate(all="ignore"):
                at_zero = self.loss.value(targets, zero, weight)
            best = self._constant_loss(self._train_data)
            self._constant_reference = max(best, at_zero)
        return self._constant_reference

    def _step_plan(self):
        """The epoch's optimizer step function, and its :class:`StepPlan` or None.

        Made once per epoch, as hooks may change things between epochs.
        """
        network, optimizer, gatherer = self.network, self.optimizer, self.gatherer
        if not USE_STEP_PLAN:
            return functools.partial(optimizer.step, network.coef, network.grad), None
        step = optimizer.step_function(network.coef, network.grad)
        if gatherer.sample_weight is not None:
            return step, None
        sparse_input = sparse.issparse(gatherer.X)
        if sparse_input and not getattr(network.layers[0], "accepts_sparse", False):
            return step, None  # Network.forward makes the rows dense first
        alpha = self.settings.alpha
        return step, StepPlan.make(network, self.loss, alpha, sparse_input)

    def _objective(self, batch, plan=None):
        """:func:`batch_objective`, checking the contract on the call's first batch.

        After that batch, ``plan`` (a :class:`StepPlan`) computes the same
        objective, if given. The first batch of a ``fit`` or of a model's
        first ``partial_fit`` also goes through inference (a few rows;
        inference writes nothing): a layer whose inference turns finite rows
        into NaN or inf while the training loss is finite would make every
        prediction garbage.
        """
        if plan is not None and not self._first_batch:
            return plan(batch)
        value, batch_weight = batch_objective(
            self.network, self.loss, batch, self.settings.alpha, self._first_batch
        )
        if self._first_batch and self._probe_inference and math.isfinite(value):
            rows = batch[0][:INFERENCE_PROBE_ROWS]
            with np.errstate(all="ignore"):
                broken = self.network.first_non_finite_inference(rows)
            if broken is not None:
                raise ValueError(self.network.non_finite_inference_message(broken))
        self._first_batch = self._first_batch and batch_weight == 0
        if self._reference is None and math.isfinite(value) and batch_weight:
            first = self.history.initial_loss
            self.history.initial_loss = value if first is None else first
            if not self.settings.incremental:
                self._reference = max(value, self.history.initial_loss)
                return value, batch_weight
            # A stream can diverge a little more in every call: a call's own
            # first batch would ratchet its reference up with it.
            self._reference = self.history.initial_loss
            if self._diverged_since_last_call(value):
                self._broken_on_arrival = value
                return math.inf, batch_weight  # diverged: no update is made
            _STREAM_PROBES[self.network] = (_copy_batch(batch), value)
        return value, batch_weight

    def _diverged_since_last_call(self, value):
        """Whether a ``partial_fit`` call finds the model already diverged.

        A call's epoch loss averages its batches' losses before their
        updates, so when the last update of a call blows the weights up, that
        call cannot see it: the next one does, on its first batch. A loss far
        above the model's last recorded one may also be new data far from the
        old (unscaled features, targets far larger), so the previous call's
        first batch, kept for this (:data:`_STREAM_PROBES`), is measured
        again: diverged weights fit it far worse than when it was trained on.
        The loss must also be far above a constant output's on the call's
        rows. Without a kept batch (the previous call was ``fit``, or the
        model was unpickled) nothing is reported.
        """
        history = self.history
        if not history.loss_curve:
            return False
        # The model's first loss, not its last: a stream diverging a little
        # more in every call ratchets its last loss up with it.
        first = history.initial_loss
        probe = _STREAM_PROBES.get(self.network)
        if probe is None or value <= DIVERGENCE_FACTOR * first:
            return False
        if value <= DIVERGENCE_FACTOR * self._constant_output_loss():
            return False
        (X, targets, weight), then = probe
        with np.errstate(all="ignore"):
            now = self.loss.value(targets, self.network.predict(X), weight)
        # Against the larger of then and the first loss: a row fitted almost
        # exactly (1e-6) may be fitted a little worse now (1e-2).
        return not now <= DIVERGENCE_FACTOR * max(then, first)

    # ------------------------------------------------------------ judging
    def _end_epoch(self, loss, n_train, validation):
        """Validate, record and judge an epoch; True when training must stop."""
        validated = self._validate(validation)
        is_best = self._judge(loss, validated)
        self.history.record(loss, n_train, validated)
        self._in_epoch = False
        self._update_bests(loss, validated)
        now = time.perf_counter()
        record = EpochRecord(
            self.history.n_iter,
            loss,
            *(validated or (None, None)),
            is_best=is_best,
            seconds=now - self._clock,
        )
        self._clock = now
        stop = False
        for hook in self.hooks:
            stop = bool(hook.epoch_end(self, record)) or stop
        self._check_interrupt()
        if stop:
            self.stop_reason = "callback"
            return True
        return self._plateau()

    def _validate(self, validation):
        """``(loss, score)`` on the held-out rows, or None without early stopping."""
        if validation is None:
            return None
        X, targets, sample_weight = validation
        output = self.network.predict(X)
        score = float(self._score(output, targets, sample_weight))
        return self.loss.value(targets, output, sample_weight), score

    def _judge(self, loss, validated):
        """Feed the stopping rule; keep the best weights. True on a new best."""
        if self.settings.incremental:
            best = self.history.best_loss
            return best is None or loss < best
        value = loss if validated is None else validated[1]
        improved = self._rule.update(value)
        if improved:
            self._keep_best(loss)
        return improved

    def _plateau(self):
        """Apply the stopping rule; the schedule may lower the rate instead."""
        if self.settings.incremental or not self._rule.exhausted:
            return False
        if self.optimizer.full_batch and not self._rule.maximize:
            return False  # L-BFGS stops by SciPy's own tests, as in MLPRegressor
        reduced = self.optimizer.reduce_on_plateau(self.learning_rate)
        if reduced is None:
            self.stop_reason = "converged"
            return True
        for hook in self.hooks:
            hook.message(
                self,
                f"No progress: learning rate {self.learning_rate:g} -> {reduced:g}",
            )
        self.learning_rate = reduced
        self._rule.count = 0
        return False

    def _update_bests(self, loss, validated):
        """The ``best_loss_`` and ``best_validation_score_`` of the history."""
        history = self.history
        if validated is not None:
            history.best_validation_score = self._rule.best
            history.best_loss = None
        else:
            best = history.best_loss
            history.best_loss = loss if best is None else min(best, loss)
            if not self.settings.incremental:
                history.best_validation_score = None

    # ------------------------------------------------------- best weights
    def _take_epoch_start(self):
        """Snapshot the current weights into a spare buffer."""
        if self._epoch_start is None and self._call_start is not None:
            start = self._call_start.weights  # the same weights: no copy
        else:
            spare = self._spare()
            start = self.network.snapshot(into=spare)
            if spare is None:
                self._pool.append(start)
        if self._best_end_is_next:  # the end of the best epoch is this start
            self._best_end, self._best_end_is_next = start, False
        self._epoch_start = start

    def _spare(self):
        """A pooled snapshot whose buffer no candidate uses, or None to allocate."""
        taken = [s[0] for s in (self._best_start, self._best_end) if s is not None]
        for snapshot in self._pool:
            if not any(snapshot[0] is buffer for buffer in taken):
                return snapshot
        return None

    def _keep_best(self, loss):
        """The epoch just recorded is the best: keep its start and its end.

        Its end is the next epoch's start (snapshotted then), or the current
        weights if training stops now. With early stopping only the end
        counts: the validation score was measured on exactly those weights.
        """
        self._best_loss, self._best_epoch = loss, self.history.n_iter + 1
        if self.optimizer.full_batch:  # an L-BFGS iterate: measured as snapshotted
            self._best_start, self._best_end = None, self._epoch_start
            self._best_end_is_next = False
            return
        by_score = self._rule.maximize
        self._best_start = None if by_score else self._epoch_start
        self._best_end, self._best_end_is_next = None, True

    def _candidates(self):
        """``(label, snapshot)`` pairs worth measuring; None is the current weights."""
        # Each label names weights, so that it reads as a sentence's subject.
        last = "the weights at the end of the last finished epoch"
        if self.history.n_iter == self._first_n_iter:
            last = "the weights this call started from"
        candidates = [(last, self._epoch_start if self._in_epoch else None)]
        if self._best_epoch is not None:
            epoch = self._best_epoch
            if self._best_start is not None:
                start = f"the weights at the start of epoch {epoch}"
                if self.settings.new_model and epoch == 1:
                    start = "the initial weights (the model is untrained)"
                candidates.append((start, self._best_start))
            end = None if self._best_end_is_next else self._best_end
            candidates.append((f"the weights at the end of epoch {epoch}", end))
        return candidates

    def measure(self, snapshot=None, penalty=True):
        """Training objective of ``snapshot`` (None: the current weights).

        Computed batch by batch in row order, with the network in inference
        mode (no dropout, BatchNorm's running statistics), so that every
        candidate is measured the same way, on exactly its weights. With
        ``penalty=False``, the data loss alone.
        """
        network = self.network
        held = None if snapshot is None else network.snapshot()
        if snapshot is not None:
            network.restore(snapshot)
        total = weight = 0.0
        alpha = self.settings.alpha
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for x, y, w in self.gatherer.batches(None):
                batch_weight = float(y.shape[0] if w is None else w.sum())
                if batch_weight > 0:
                    value = self.loss.value(y, network.predict(x), w)
                    if penalty:
                        value += network.l2_penalty(alpha / batch_weight)
                    total += value * batch_weight
                    weight += batch_weight
        if held is not None:
            network.restore(held)
        value = total / weight
        return value if math.isfinite(value) else math.inf

    def _restore_lowest(self):
        """Measure the candidates; restore the lowest. Returns (label, value)."""
        measured = [
            (self.measure(snap), label, snap) for label, snap in self._candidates()
        ]
        value, label, snapshot = min(measured, key=lambda item: item[0])
        if snapshot is not None:
            self.network.restore(snapshot)
        return label, value, measured[0][0]

    # -------------------------------------------------- when things go wrong
    def _diverged(self, value):
        """Stop at once and fall back to weights that are known to be sane."""
        self.stop_reason = "diverged"
        finished = self.history.n_iter - self._first_n_iter
        if self.settings.new_model and not finished:
            raise ValueError(self._no_epoch_message(value))
        rate = _rate_advice(self.settings.learning_rate)
        epoch = self.history.n_iter + 1
        if self.settings.incremental or not finished:
            self._call_start.restore()
            self._in_epoch = False
            kept = "this call's updates were undone, leaving the model as it was"
        else:
            kept = self._restore_after_divergence()
            self.optimizer.initialize(self.network.coef)
            self._in_epoch = False
        if self._broken_on_arrival is not None:
            self._warn(DivergenceWarning, self._broken_on_arrival_message(rate))
            return None
        if self._reference is None:  # this call's first batch, before any update
            data = f"the largest absolute value in X is {self._data_magnitude:.3g}"
            causes = self._before_any_update(data)
        elif self._unscaled:
            causes = self._likely_causes(unstable=True)
        else:
            causes = (
                f"The most likely cause is a learning rate too large: {rate}. If "
                "the features are not standardised, scale them first (e.g. "
                "StandardScaler in a Pipeline)."
            )
        self._warn(
            DivergenceWarning,
            f"Training diverged in epoch {epoch}: the loss reached {value:.3g} (the "
            f"reference, at the start of training, was {self._reference_text()}). "
            f"Training stopped; {kept}. {causes}",
        )
        return None

    def _broken_on_arrival_message(self, rate):
        """The warning of a call that found the model diverged by earlier updates."""
        return (
            "The model had diverged before this partial_fit call: its loss on the "
            f"call's first batch, before any update, is {self._broken_on_arrival:.3g}, "
            f"over {DIVERGENCE_FACTOR:g} times its loss when training started "
            f"({self.history.initial_loss:.3g}) and a constant output's on these "
            "rows, and the rows the previous call trained on now fit over "
            f"{DIVERGENCE_FACTOR:g} times worse than they did: updates of earlier "
            "calls blew the weights up. This "
            "call was skipped; the model's predictions are not meaningful. Fit the "
            f"model again, or load a saved copy, with a smaller learning rate: {rate}."
        )

    def _restore_after_divergence(self):
        """Restore the best weights of the finished epochs; describe them."""
        if not self._rule.maximize:
            label, value, _ = self._restore_lowest()
            return (
                f"{label} had the lowest training loss ({value:.4g}) and were "
                "restored, and the optimizer state was reset"
            )
        best = self._best_end
        if best is None or self._best_end_is_next:
            best = self._epoch_start  # the end of the last finished epoch
        self.network.restore(best)
        return (
            f"the weights of epoch {self._best_epoch}, the best validation score, "
            "were restored and the optimizer state was reset"
        )

    def _no_epoch_message(self, value):
        """Why a new model could not finish one epoch, likelier cause first."""
        advice = _rate_advice(self.settings.learning_rate)
        data = f"the largest absolute value in X is {self._data_magnitude:.3g}"
        if self._reference is None:
            causes = self._before_any_update(data)
        else:
            causes = (
                f"The input data may contain very large values ({data}): scale "
                "the features, e.g. with StandardScaler in a Pipeline. Otherwise "
                f"the learning rate is too large: {advice}."
                if self._unscaled
                else f"The learning rate is too large: {advice}. (The features "
                f"look scaled: {data}.)"
            )
        return (
            "Training diverged before finishing one epoch (the loss reached "
            f"{value:.3g}), so there is no model to keep. {causes}"
        )

    def _before_any_update(self, data):
        """Causes of a loss that was not finite on the first batch.

        No update had been made, so the learning rate is not the cause: the
        layers (found by an inference pass over a few training rows) or the
        scale of the data are.
        """
        text = (
            "The loss was not finite on the first batch, before any update, so "
            "the learning rate is not the cause"
        )
        with np.errstate(all="ignore"):  # the probe decides, not NumPy's warnings
            index = self.network.first_non_finite_inference(self._check_rows)
            if index is None:  # the call is undone: training state may change
                index = self.network.first_non_finite_training(self._check_rows)
        if index is not None:
            name = _layer_name(index, self.network.layers[index])
            text += f": {name}.forward returned NaN or inf for finite input rows"
        if self._unscaled:
            return (
                f"The input data may contain very large values ({data}): scale "
                f"the features, e.g. with StandardScaler in a Pipeline. {text}."
            )
        if index is None:
            text += (
                ": check what the layers' forward and the loss return for the "
                "first rows of X"
            )
        return f"{text}. (The features look scaled: {data}.)"

    def _reference_text(self):
        return "not measured" if self._reference is None else f"{self._reference:.3g}"

    def _check_interrupt(self):
        """Turn a Ctrl-C deferred by the guard into a stop, between steps."""
        if self._interrupt.requested:
            raise KeyboardInterrupt

    def _keep_after_interrupt(self):
        """Undo the unfinished epoch; False when there is nothing to keep."""
        self.stop_reason = "interrupted"
        finished = self.history.n_iter - self._first_n_iter
        if self.settings.new_model and not finished:
            return False
        if self.settings.incremental or not finished:
            self._call_start.restore()
            what = "the call was undone, leaving the model as it was"
        else:
            if self._in_epoch:
                self.network.restore(self._epoch_start)
            what = f"the model keeps what {finished} finished epoch(s) learned"
        self._in_epoch = False
        self._warn(UserWarning, f"Training interrupted by the user: {what}.")
        return True

    # ------------------------------------------------------------- the end
    def _settle(self, train):
        """Choose the weights to keep when ``fit`` ends, and warn if needed."""
        if self.stop_reason == "diverged":
            return
        if self.settings.incremental:
            self._warn_unscaled_stream(train)
            return
        judged = self._restore_best()
        self._check_inference(train)
        self._check_output_varies(train)
        gap = self._gap_to_constant(train, restored=judged is not None)
        if judged == "warned":
            # That warning names the causes; it must also say when the kept
            # network is no better than a constant output.
            if gap is not None:
                category, message = self.warnings[-1]
                self.warnings[-1] = (category, f"{message} {self._still_worse(*gap)}")
            return
        if self.stop_reason == "max_iter" and not self.optimizer.full_batch:
            self._warn(ConvergenceWarning, self._max_iter_message(gap))
        elif gap is not None:
            self._warn(ConvergenceWarning, self._constant_message(*gap))

    def _check_inference(self, train):
        """Raise if the kept network predicts NaN or inf on finite training rows.

        Training measured finite losses, so a non-finite prediction comes
        from a layer whose inference branch breaks (the first batch's checks
        saw the initial weights only). A few rows suffice: such a layer
        breaks on every row.
        """
        with np.errstate(all="ignore"):
            broken = self.network.first_non_finite_inference(self._check_rows)
        if broken is not None:
            raise ValueError(self.network.non_finite_inference_message(broken))

    def _check_output_varies(self, train):
        """Warn when the kept network gives one output whatever the input.

        A network whose hidden units all died (ReLUs pushed below zero for
        every row by steps too large) or whose weights were shrunk to 0 by a
        huge ``alpha`` outputs its last bias for every row: a constant model
        whose loss can sit just at the constant's, so no other check fires.
        Checked exactly (a healthy network's outputs differ in their last
        bits at least) on the rows :meth:`_check_inference` used, then, only
        if they agree, on every training row; not when the rows are all equal
        or the target does not vary.
        """
        rows = self._check_rows
        X, targets = train[0], train[1]
        if rows.shape[0] < 2:
            return
        # Constant up to rounding: spread below a millionth of the targets'
        # (one number: a quantile loss has more outputs than targets).
        tolerance = CONSTANT_OUTPUT_RTOL * np.ptp(targets)
        if not tolerance > 0:
            return
        if np.ptp(self.network.predict(rows), axis=0).max() > tolerance:
            return
        # Those rows may all lie where every unit is off: check them all.
        if np.ptp(self.network.predict(X), axis=0).max() > tolerance:
            return
        spread = X.max(axis=0) - X.min(axis=0)
        if not np.any(spread.toarray() if sparse.issparse(spread) else spread):
            return  # every row is the same: one output is right
        alpha = self.settings.alpha
        if alpha >= LARGE_ALPHA:
            cause = (
                f"its weights were shrunk towards 0 by the L2 penalty alpha={alpha:g}, "
                "which outweighs the data: use a smaller alpha (the default is "
                "0.0001)."
            )
        else:
            cause = (
                "its units are inactive, e.g. ReLUs pushed below zero for every "
                f"row by steps too large. {self._likely_causes(unstable=True)}"
            )
        self._warn(
            ConvergenceWarning,
            "The fitted network gives the same output for every input, up to "
            f"rounding (all {X.shape[0]} training rows, which differ), so its "
            f"{self.loss.prediction_noun} do not depend on X: {cause}",
        )

    def _restore_best(self):
        """Apply the best-weights rules at the end of ``fit``.

        Returns ``"restored"`` (early stopping's best epoch, or lower weights
        after a fit that wobbled at its floor), ``"warned"`` (an unstable end
        or no progress, with its warning) or None.
        """
        if self._rule.maximize:
            if self._best_end is not None and not self._best_end_is_next:
                self.network.restore(self._best_end)
                return "restored"
            return None
        return self._unstable() or ("warned" if self._no_progress() else None)

    def _gap_to_constant(self, train, restored):
        """``(fitted, constant)`` losses when a constant output fits better, else None.

        The last epoch's loss (penalty included, so never below the data
        loss) triggers an exact measurement when other weights were
        restored, or when it is above the loss of the intercept-only output,
        unless it is within the warning's margin (:data:`CONSTANT_MARGIN`)
        and still falling (:meth:`_settled_by_last_epoch`); always with
        sample weights.
        """
        if not self.history.loss_curve or self.stop_reason in USER_STOPS:
            return None  # the user chose to stop: no verdict on the model
        weight = train[2]
        null = self._constant_loss(train)
        # With sample weights the epoch loss averages batches by their rows
        # (as MLP), not the weighted loss the verdict is about: measure.
        if not restored and weight is None and self._settled_by_last_epoch(null):
            return None
        if not null > 0:
            return None  # a constant target: any constant fits it exactly
        fitted = self.measure(penalty=False)
        return (fitted, null) if fitted > CONSTANT_MARGIN * null else None

    @property
    def _data_magnitude(self):
        """The largest absolute value in this call's ``X`` (for messages)."""
        return self._input_scale()[0]

    @property
    def _unscaled(self):
        """Whether this call's features do not look standardised."""
        return self._input_scale()[1]

    def _input_scale(self):
        """Both of the above, computed once per call when first needed.

        A pass over ``X`` each: only messages and checks that already found
        something wrong need them, so a healthy call never pays for them.
        """
        if self._input_stats is None:
            X = self._inputs
            scaled = _largest_feature_rms(X) <= UNSCALED_INPUT
            self._input_stats = (_magnitude(X), not scaled)
        return self._input_stats

    def _constant_loss(self, train):
        """The loss of the best constant output (intercept only) on ``train``."""
        _, targets, weight = train
        constant = self.loss.intercept_only(targets, weight).astype(targets.dtype)
        outputs = np.broadcast_to(constant, (len(targets), constant.size)).copy()
        return self.loss.value(targets, outputs, weight)

    def _warn_unscaled_stream(self, train):
        """Warn once per model when ``partial_fit`` data look unscaled and hurt.

        A ``partial_fit`` call has no end-of-fit verdict (each call pays for
        its checks), so a stream of unscaled features could train a model
        worse than a constant without a word. When the features do not look
        scaled, the call's loss (its batches', before their updates) is
        compared with a constant output's on the same rows, which costs one
        pass over the targets (and, only when the call did that badly, one
        over ``X``); a first warning is enough. The bar is
        :data:`UNSCALED_STREAM_FACTOR` times the constant's loss: an untrained
        network on scaled features starts up to ~3 times above it.
        """
        history = self.history
        if history.warned_unscaled or not history.loss_curve:
            return
        if self.stop_reason in USER_STOPS or train[1].shape[0] < 2:
            return  # a constant fits one row exactly: nothing to compare
        null, last = self._constant_loss(train), history.loss_curve[-1]
        if not null > 0 or last <= UNSCALED_STREAM_FACTOR * null:
            return
        if not self._unscaled:  # the pass over X, only for a call gone wrong
            return
        history.warned_unscaled = True
        self._warn(
            ConvergenceWarning,
            f"partial_fit: the model fits this call's data worse than a constant "
            f"output would (loss {last:.4g}; the best constant gives {null:.4g}), "
            "and the features do not look scaled (the largest absolute value in "
            f"X is {self._data_magnitude:.3g}). Scale them, e.g. with a "
            "StandardScaler fitted on a first chunk (StandardScaler.partial_fit "
            "learns from a stream too). This is said once per model.",
        )

    def _settled_by_last_epoch(self, null):
        """Whether the last epoch's loss shows the model no worse than a constant.

        It does when it is at most the constant's loss ``null``, or at most
        :data:`CONSTANT_MARGIN` times it (the warning's threshold) while
        lower than the epoch before (or the first batch's): the weights at
        the end of a falling epoch fit better than its average. Measuring
        would cost a forward pass over the training data, a sixth of a
        two-epoch fit of a wide network.
        """
        history = self.history
        last = history.loss_curve[-1]
        if last <= null:
            return True
        earlier = history.loss_curve[-2:-1] or [history.initial_loss]
        falling = earlier[0] is not None and last < earlier[0]
        return falling and last <= CONSTANT_MARGIN * null

    def _constant_message(self, fitted, null):
        """The warning for a network that fits worse than a constant output."""
        return (
            f"The fitted network fits its training data worse than a constant "
            f"output would (training loss {fitted:.4g}; the best constant gives "
            f"{null:.4g}), so its {self.loss.prediction_noun} are not meaningful. "
            f"{self._likely_causes()}"
        )

    def _likely_causes(self, unstable=False):
        """Why a fit ended badly, the likelier cause first.

        Unscaled features come first when ``X`` looks unscaled. A fit that
        became unstable had a learning rate too large; one that merely ended
        poor may also have stopped before learning enough.
        """
        advice = _rate_advice(self.settings.learning_rate)
        rate = f"the learning rate is too large: {advice}."
        if not unstable:
            rate = (
                f"the learning rate may be too large ({advice}), or training "
                f"stopped before it learned enough ({self._how_it_stopped()})."
            )
        if self._unscaled:
            return (
                "The features do not look scaled (the largest absolute value in X "
                f"is {self._data_magnitude:.3g}): scale them, e.g. with "
                f"StandardScaler in a Pipeline. If they are, {rate}"
            )
        return rate[0].upper() + rate[1:]

    def _how_it_stopped(self):
        """The rule that ended training, in words."""
        epochs = self.history.n_iter - self._first_n_iter
        settings = self.settings
        if self.stop_reason == "converged" and not self.optimizer.full_batch:
            return (
                f"it stopped after {epochs} epoch(s) without an improvement of tol="
                f"{settings.tol} for more than n_iter_no_change="
                f"{settings.n_iter_no_change} epochs"
            )
        return f"it stopped after {epochs} epoch(s)"

    def _max_iter_message(self, gap):
        """The warning for a fit that ran out of epochs before converging."""
        settings = self.settings
        text = (
            f"Stopped after max_iter={settings.max_epochs} epochs without "
            f"converging: the stopping rule (tol={settings.tol}, n_iter_no_change="
            f"{settings.n_iter_no_change}) did not end training. Increase max_iter, "
            "or raise tol."
        )
        if gap is not None:
            # Worse than a constant: more epochs are not the likeliest cure.
            text += f" {self._still_worse(*gap)} {self._likely_causes()}"
        return text

    def _still_worse(self, fitted, null):
        """The sentence added to a warning when a constant would fit better."""
        return (
            f"The kept network fits its training data worse than a constant "
            f"output would (training loss {fitted:.4g}; the best constant gives "
            f"{null:.4g}), so its {self.loss.prediction_noun} are not meaningful."
        )

    def _unstable(self):
        """Keep the lowest weights if the fit ended far above them.

        Returns ``"warned"`` when the rise was material (more than
        :data:`UNSTABLE_SHARE` of what training gained given back), with a
        warning; ``"restored"`` when the fit only wobbled at its floor (a loss
        near 0 rising by a large factor): lower weights are kept without a
        warning, since nothing needs the user's attention; None otherwise.
        """
        curve = self.history.loss_curve[self._first_n_iter :]
        if not curve or curve[-1] <= UNSTABLE_FACTOR * self._best_loss:
            return None
        label, kept, final = self._restore_lowest()
        gained = self.history.initial_loss - self._best_loss
        if curve[-1] - self._best_loss <= UNSTABLE_SHARE * gained:
            return "restored" if kept < final else None
        outcome = (
            f"{label[0].upper()}{label[1:]} measure lowest on the training data "
            f"(loss {kept:.4g} against {final:.4g} at the end) and were restored."
            if kept < final
            else f"The final weights still measure lowest (loss {final:.4g}) and "
            "were kept."
        )
        self._warn(
            ConvergenceWarning,
            f"Training was unstable: the last epoch's loss, {curve[-1]:.4g}, is "
            f"{curve[-1] / self._best_loss:.3g} times the best, {self._best_loss:.4g}"
            f" (epoch {self._best_epoch}). {outcome} "
            f"{self._likely_causes(unstable=True)}",
        )
        return "warned"

    def _no_progress(self):
        """Warn when a new model ends no lower than its first epoch; True if so.

        "Lower" means by more than rounding (``NO_PROGRESS_RTOL`` of the first
        epoch's loss): weights that do not move give the same epoch loss summed
        in another row order, which can come out a few units in the last place
        lower.
        """
        curve = self.history.loss_curve
        if not self.settings.new_model or len(curve) < 2:
            return False
        if curve[-1] < curve[0] - NO_PROGRESS_RTOL * abs(curve[0]):
            return False
        self._warn(
            ConvergenceWarning,
            f"Training did not reduce the loss: it was {curve[0]:.4g} in the first "
            f"epoch and {curve[-1]:.4g} in the last. Check the learning rate "
            f"(learning_rate={self.settings.learning_rate:g}: too large makes the "
            "loss oscillate or grow, too small leaves it unchanged) and that the "
            "features are scaled.",
        )
        return True

    def _warn(self, category, message):
        self.warnings.append((category, message))

    # ---------------------------------------------------------- full batch
    def _run_full_batch(self, train, validation):
        """L-BFGS on every training row; one iteration is one epoch."""
        n_train, network = train[1].shape[0], self.network

        def objective(coef):
            self._check_interrupt()
            network.coef[...] = coef
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                value, _ = self._objective(train)
            if not math.isfinite(value):
                return math.inf, np.zeros(coef.shape)
            return value, network.grad.astype(np.float64)

        def after_iteration(intermediate_result):
            loss = float(intermediate_result.fun)
            if self._beyond_divergence_bound(loss):
                self._diverged(loss)
                raise StopIteration
            network.coef[...] = intermediate_result.x
            # The iterate is exact: its loss was measured on it, so it is
            # this "epoch"'s start snapshot, and the task opens and closes here.
            self._begin_epoch()
            if self._end_epoch(loss, n_train, validation):
                raise StopIteration
            self._in_epoch = True  # the line search of the next iteration

        self._take_epoch_start()
        self._in_epoch = True
        result = self.optimizer.minimize(
            objective, network.coef, self.settings.max_epochs, self.settings.tol,
            after_iteration,
        )  # fmt: skip
        if self.stop_reason == "diverged":
            return
        if not math.isfinite(result.fun):
            self._diverged(float(result.fun))
            return
        network.coef[...] = result.x
        self._in_epoch = False
        self._lbfgs_status(result)

    def _lbfgs_status(self, result):
        """Name the reason when SciPy stopped before converging (as MLP does)."""
        if self.stop_reason in ("callback", "converged") or result.status == 0:
            self.stop_reason = "converged" if result.status == 0 else self.stop_reason
            return
        self.stop_reason = "max_iter"
        message = str(result.message)
        advice = (
            f"increase optimizer__max_fun (max_fun={self.optimizer.max_fun})"
            if "EVALUATIONS" in message.upper()
            else f"increase max_iter (max_iter={self.settings.max_epochs})"
        )
        self._warn(
            ConvergenceWarning,
            f"L-BFGS stopped after {result.nit} iterations without converging "
            f"({message}): {advice}, or raise tol.",
        )


#: The first batch of each model's last ``partial_fit`` call and its
#: objective then, per network (weakly: dropped with the model, never
#: pickled), for :meth:`TrainingLoop._diverged_since_last_call`.
_STREAM_PROBES = weakref.WeakKeyDictionary()


#: At most this many rows of that batch are kept (its mean loss then stands
#: for theirs: the test allows a factor of 10,000).
PROBE_ROWS = 256


def _copy_batch(batch):
    """A copy of the first :data:`PROBE_ROWS` rows of ``(X, targets, sample_weight)``.

    A copy, so that later writes to the caller's arrays cannot change it.
    """
    return tuple(None if part is None else part[:PROBE_ROWS].copy() for part in batch)


class _Checkpoint:
    """What a training call changes in place, copied to put back on failure.

    The network's weights and layer state, the optimizer's state and every
    random generator (the loop's and those of the layers).
    """

    def __init__(self, loop):
        self.network, self.optimizer = loop.network, loop.optimizer
        self.weights = loop.network.snapshot()
        self.optimizer_state = loop.optimizer.get_state()
        generators = [loop.rng] + _layer_generators(loop.network)
        self.generators = [(g, g.bit_generator.state) for g in generators]

    def restore(self):
        self.network.restore(self.weights)
        self.optimizer.set_state(self.optimizer_state)
        for generator, state in self.generators:
            generator.bit_generator.state = state


def _layer_generators(network):
    """The random generators held by the network's layers (Dropout's ``rng_``)."""
    return [
        value
        for layer in network.layers
        for value in vars(layer).values()
        if isinstance(value, np.random.Generator)
    ]


class _InterruptGuard:
    """Defers a first Ctrl-C until the current step ends; a second one is immediate.

    Only in the main thread and only over Python's default handler: elsewhere
    ``KeyboardInterrupt`` arrives as usual, and the loop handles it the same way.
    """

    def __enter__(self):
        self.requested = False
        self._previous = None
        in_main = threading.current_thread() is threading.main_thread()
        if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _min_batch_rows(network):
    """Fewest rows a training batch needs, and the layer that needs them.

    Returns ``(rows, where)``, ``where`` naming the layer as
    ``"layers[2] (BatchNorm)"`` (None when no layer needs more than one row).
    """
    rows, where = 1, None
    for index, layer in enumerate(network.layers):
        needed = getattr(layer, "min_batch_rows", 1)
        if needed > rows:
            rows, where = needed, f"layers[{index}] ({type(layer).__name__})"
    return rows, where


def _stratify_if_possible(labels, n_held, n_rows):
    """``labels``, or None when a stratified split cannot be made.

    Stratifying needs at least 2 rows of every class and room for one row
    of each class on both sides (``StratifiedShuffleSplit``'s conditions).
    """
    if labels is None:
        return None
    counts = np.unique(labels, return_counts=True)[1]
    if counts.min() < 2 or min(n_held, n_rows - n_held) < counts.size:
        return None
    return labels


def _take_rows(data, rows):
    """``(X, targets, sample_weight)`` restricted to ``rows``."""
    return tuple(None if array is None else array[rows] for array in data)


def _rate_advice(learning_rate):
    """What to try instead of a learning rate that made training unstable."""
    return f"try learning_rate={learning_rate / 10:g} or smaller"


def _largest_feature_rms(X):
    """The largest root mean square over the features of ``X`` (dense or sparse).

    1 for standardised features; inf when squares overflow (values beyond
    1e154), which counts as unscaled too.
    """
    if X.shape[0] == 0 or X.shape[1] == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        if sparse.issparse(X):
            squares = np.asarray(X.multiply(X).sum(axis=0)).ravel()
        else:
            squares = np.einsum("ij,ij->j", X, X)
        return float(np.sqrt(np.max(squares) / X.shape[0]))


def _magnitude(X):
    """Largest absolute value in ``X`` (dense or sparse), for error messages."""
    values = X.data if sparse.issparse(X) else X
    if values.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.max(np.abs(values)))
