"""scikit-learn's callback API (``sklearn.callback``), when it is installed.

scikit-learn 1.9 added an experimental callback API: ``est.set_callbacks(
ProgressBar())`` and callbacks that meta-estimators such as ``GridSearchCV``
and ``Pipeline`` propagate to the estimators they fit. The estimators take
part through :class:`FitTasks`: one root task per ``fit`` (or
``partial_fit``) call and one subtask per epoch. With an older scikit-learn
the mixin is an empty stand-in and the tasks do nothing, so fitting works
the same without callbacks.

A hook that asks for ``fitted_estimator`` gets a snapshot: a copy of the
estimator whose fitted state (network, optimizer, histories, counters) is a
deep copy of the state at the hook, so it keeps predicting what the model
predicted then while training goes on. scikit-learn builds it only when a
hook declares ``fitted_estimator`` (``reconstruction_attributes`` may be a
callable, evaluated lazily once per hook call), so fits without such a
callback copy nothing.
"""

import copy

from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9: no callback API

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin``: no callbacks."""


from .training import TrainingHook

__all__ = [
    "CALLBACK_STATE",
    "CallbackHook",
    "CallbackSupportMixin",
    "FitTasks",
    "fitted_state_copy",
]

#: Attributes scikit-learn's callback machinery sets on an estimator. They are
#: not part of the model: a snapshot shares them (the callbacks themselves,
#: which may hold threads, cannot be deep-copied).
CALLBACK_STATE = frozenset(
    {
        "_skl_callbacks",
        "_skl_callbacks_to_teardown",
        "_parent_callback_ctx",
        "_callback_fit_ctx",
    }
)


def fitted_state_copy(estimator):
    """Deep copy of every fitted attribute of ``estimator``, as a dict.

    Everything but the constructor parameters and :data:`CALLBACK_STATE` is
    copied: the network (parameter vector and layer state, without the
    layers' scratch buffers), the optimizer's state, the random generator and
    the histories, so nothing training does later reaches the copy.

    Parameters
    ----------
    estimator : BaseNN
        The estimator being trained.

    Returns
    -------
    state : dict or None
        Attribute name to copied value; None while the estimator has no
        network yet (a callback then receives ``fitted_estimator=None``).
    """
    try:
        check_is_fitted(estimator, "network_")
    except NotFittedError:
        return None
    shared = set(estimator.get_params(deep=False)) | CALLBACK_STATE
    state = {k: v for k, v in vars(estimator).items() if k not in shared}
    return copy.deepcopy(state)


class _NoTask:
    """Does nothing where a ``CallbackContext`` would call the callbacks."""

    def subcontext(self, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return False


class FitTasks:
    """The callback tasks of one fit call: the fit itself and one per epoch.

    Every hook that asks for ``fitted_estimator`` receives a snapshot of the
    estimator as it is when the hook runs (see :func:`fitted_state_copy`):
    at the end of an epoch, the model after that epoch.

    Parameters
    ----------
    estimator : estimator instance
        The estimator being fitted.
    max_epochs : int
        Most epochs this call can run (the number of subtasks).
    X, y : array-like
        The training data as the user passed it, handed to the hooks (a
        ``ScoringMonitor`` scores the estimator on them after each epoch).
    sample_weight : array-like or None
        Passed to the hooks as ``metadata={"sample_weight": ...}``.
    """

    def __init__(self, estimator, max_epochs, X, y, sample_weight=None):
        self.estimator = estimator
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        # A callable: scikit-learn calls it only for hooks that want a
        # ``fitted_estimator``, so the copy costs nothing otherwise.
        self._data = {
            "X": X,
            "y": y,
            "metadata": metadata,
            "reconstruction_attributes": self._snapshot,
        }
        init = getattr(estimator, "_init_callback_context", None)
        self._root = _NoTask() if init is None else init(max_subtasks=max_epochs)
        self._root.call_on_fit_task_begin(estimator=estimator, **self._data)
        # Epoch tasks only reach this estimator's own callbacks: without any,
        # skip them (a few microseconds per epoch), as LogisticRegression does.
        has_callbacks = bool(getattr(estimator, "_skl_callbacks", None))
        self._epochs = self._root if has_callbacks else _NoTask()
        self._epoch = None

    def _snapshot(self, current=None):
        """The estimator's fitted state now, copied (called by scikit-learn).

        ``current()``, when given, returns the attributes the training loop
        holds for this point of training and has not yet committed to the
        estimator (its histories); they replace the estimator's own.
        """
        state = fitted_state_copy(self.estimator)
        if state is not None and current is not None:
            state.update(current())
        return state

    def _hook_data(self, current):
        """The data every hook gets, with a snapshot that includes ``current``."""
        if current is None:
            return self._data
        return {
            **self._data,
            "reconstruction_attributes": lambda: self._snapshot(current),
        }

    def begin_epoch(self, current=None):
        """Open the task of the next epoch."""
        self._epoch = self._epochs.subcontext(task_name="epoch")
        self._epoch.call_on_fit_task_begin(
            estimator=self.estimator, **self._hook_data(current)
        )

    def end_epoch(self, current=None):
        """Close the epoch's task; returns True if a callback asks to stop."""
        return self._epoch.call_on_fit_task_end(
            estimator=self.estimator, **self._hook_data(current)
        )

    def end(self):
        """Close the root task, after the last epoch."""
        self._root.call_on_fit_task_end(estimator=self.estimator, **self._data)


class CallbackHook(TrainingHook):
    """Connects the training loop to the callback tasks of one fit call.

    Parameters
    ----------
    tasks : FitTasks
        The tasks of the call.
    attributes : callable
        ``attributes(loop) -> dict`` of the fitted attributes the loop holds
        (its histories), merged into the ``fitted_estimator`` snapshot.
    """

    def __init__(self, tasks, attributes):
        self.tasks, self.attributes = tasks, attributes

    def epoch_begin(self, loop):
        self.tasks.begin_epoch(lambda: self.attributes(loop))

    def epoch_end(self, loop, record):
        return bool(self.tasks.end_epoch(lambda: self.attributes(loop)))
