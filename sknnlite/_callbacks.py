"""scikit-learn's callback API (``sklearn.callback``), when it is installed.

scikit-learn 1.9 added an experimental callback API: ``est.set_callbacks(
ProgressBar())`` and callbacks that meta-estimators such as ``GridSearchCV``
and ``Pipeline`` propagate to the estimators they fit. The estimators take
part through :class:`FitTasks`: one root task per ``fit`` (or
``partial_fit``) call and one subtask per epoch. With an older scikit-learn
the mixin is an empty stand-in and the tasks do nothing, so fitting works
the same without callbacks.
"""

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9: no callback API

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin``: no callbacks."""


from .training import TrainingHook

__all__ = ["CallbackHook", "CallbackSupportMixin", "FitTasks"]


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
        self._data = {"X": X, "y": y, "metadata": metadata}
        init = getattr(estimator, "_init_callback_context", None)
        self._root = _NoTask() if init is None else init(max_subtasks=max_epochs)
        self._root.call_on_fit_task_begin(estimator=estimator, **self._data)
        # Epoch tasks only reach this estimator's own callbacks: without any,
        # skip them (a few microseconds per epoch), as LogisticRegression does.
        has_callbacks = bool(getattr(estimator, "_skl_callbacks", None))
        self._epochs = self._root if has_callbacks else _NoTask()
        self._epoch = None

    def begin_epoch(self):
        """Open the task of the next epoch."""
        self._epoch = self._epochs.subcontext(task_name="epoch")
        self._epoch.call_on_fit_task_begin(estimator=self.estimator, **self._data)

    def end_epoch(self, reconstruction_attributes=None):
        """Close the epoch's task; returns True if a callback asks to stop.

        ``reconstruction_attributes`` (a dict, or a callable returning one,
        called only if a callback asks for ``fitted_estimator``) are set on a
        shallow copy of the estimator to make the model of this epoch.
        """
        return self._epoch.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes=reconstruction_attributes or {},
            **self._data,
        )

    def end(self):
        """Close the root task, after the last epoch."""
        self._root.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes={}, **self._data
        )


class CallbackHook(TrainingHook):
    """Connects the training loop to the callback tasks of one fit call.

    Parameters
    ----------
    tasks : FitTasks
        The tasks of the call.
    attributes : callable
        ``attributes(loop) -> dict`` of the fitted attributes at the end of
        the loop's current epoch, for the ``fitted_estimator`` callbacks get.
    """

    def __init__(self, tasks, attributes):
        self.tasks, self.attributes = tasks, attributes

    def epoch_begin(self, loop):
        self.tasks.begin_epoch()

    def epoch_end(self, loop, record):
        return bool(self.tasks.end_epoch(lambda: self.attributes(loop)))
