"""Plots of training, following scikit-learn's Display conventions.

matplotlib is optional (``pip install sknnlite[plot]``); it is imported only
when a plot is drawn.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._reporting import find_best_epoch

__all__ = ["LossCurveDisplay"]


def _import_pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib` (or `pip install sknnlite[plot]`)."
        ) from error
    return plt


class LossCurveDisplay:
    """Training loss, validation loss and validation score against epochs.

    Build it with :meth:`from_estimator`, or from recorded curves and then
    call :meth:`plot`. Losses share the left axis; the validation score
    (higher is better) has its own axis on the right. A dashed vertical line
    marks the best epoch.

    NaN and infinite values leave gaps in the curves and are never the best
    epoch; when no value is finite there is no marker, and a note on the
    plot says so. A history with no epoch at all (``loss_curve_ == []``, a
    fit that diverged in its first epoch) cannot be drawn: :meth:`plot`
    raises ``ValueError``.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch (``loss_curve_``).
    validation_loss_curve : array-like of shape (n_validated,), default=None
        Loss on the held-out data per epoch (``validation_loss_curve_``).
    validation_scores : array-like of shape (n_validated,), default=None
        Score on the held-out data per epoch (``validation_scores_``).
    estimator_name : str, default=None
        Used in the title.

    Attributes
    ----------
    best_epoch : int or None
        Epoch (counted from 1) with the best validation score, or with the
        lowest training loss when there is no validation; NaN and infinite
        values are skipped. None when no value is finite.
    line_ : matplotlib Line2D
        The training loss.
    validation_loss_line_ : matplotlib Line2D or None
        The validation loss.
    validation_score_line_ : matplotlib Line2D or None
        The validation score, drawn on ``score_ax_``.
    best_epoch_line_ : matplotlib Line2D or None
        The vertical line at ``best_epoch``; None without a best epoch.
    ax_ : matplotlib Axes
        Axes with the losses.
    score_ax_ : matplotlib Axes or None
        Twin axes with the validation score.
    figure_ : matplotlib Figure
        Figure containing the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_friedman1
    >>> from sknnlite import NNRegressor
    >>> from sknnlite.display import LossCurveDisplay
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = NNRegressor(learning_rate=0.01, tol=1e-3, early_stopping=True,
    ...                     random_state=0)
    >>> display = LossCurveDisplay.from_estimator(model.fit(X, y))
    >>> len(display.line_.get_xdata()) == model.n_iter_
    True
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        estimator_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    @property
    def best_epoch(self):
        """Epoch, counted from 1, of the best validation score or training loss."""
        return find_best_epoch(self.loss_curve, self.validation_scores).epoch

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None):
        """Plot the curves recorded by a fitted sknnlite estimator.

        Parameters
        ----------
        estimator : NNRegressor, NNClassifier or Pipeline
            Fitted estimator with ``loss_curve_``; for a Pipeline, its last
            step.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Title; defaults to the estimator's class name.

        Returns
        -------
        display : LossCurveDisplay

        Raises
        ------
        ValueError
            If the estimator recorded no epoch (``loss_curve_ == []``).
        """
        _import_pyplot("LossCurveDisplay.from_estimator")
        model = estimator[-1] if hasattr(estimator, "steps") else estimator
        check_is_fitted(model)
        if not hasattr(model, "loss_curve_"):
            raise TypeError(
                f"LossCurveDisplay.from_estimator needs an estimator that records "
                f"loss_curve_, such as NNRegressor; got {type(model).__name__}."
            )
        _check_has_epochs(model.loss_curve_, f"{type(model).__name__}.loss_curve_")
        display = cls(
            loss_curve=model.loss_curve_,
            validation_loss_curve=getattr(model, "validation_loss_curve_", None),
            validation_scores=getattr(model, "validation_scores_", None),
            estimator_name=type(model).__name__,
        )
        return display.plot(ax=ax, name=name)

    def plot(self, ax=None, *, name=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Title; defaults to ``estimator_name``.

        Returns
        -------
        display : LossCurveDisplay
            ``self``, with the matplotlib objects stored.

        Raises
        ------
        ValueError
            If ``loss_curve`` is empty: there is no epoch to draw.
        """
        plt = _import_pyplot("LossCurveDisplay.plot")
        _check_has_epochs(self.loss_curve, "loss_curve")
        if ax is None:
            _, ax = plt.subplots()
        self.ax_, self.figure_ = ax, ax.figure
        self.line_ = _plot_curve(ax, self.loss_curve, "training loss", "C0")
        self.validation_loss_line_ = _plot_curve(
            ax, self.validation_loss_curve, "validation loss", "C1"
        )
        self.score_ax_ = self.validation_score_line_ = None
        if self.validation_scores is not None and len(self.validation_scores):
            self.score_ax_ = ax.twinx()
            self.validation_score_line_ = _plot_curve(
                self.score_ax_, self.validation_scores, "validation score", "C2"
            )
            self.score_ax_.set_ylabel("validation score")
        self.best_epoch_line_ = self._mark_best_epoch(ax)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(name or self.estimator_name or "")
        self._add_legend()
        return self

    def _mark_best_epoch(self, ax):
        """Dashed line at the best epoch; without one, a note saying why."""
        best = find_best_epoch(self.loss_curve, self.validation_scores)
        if best.epoch is None:
            ax.text(
                0.5, 0.5, f"no best epoch: no finite {best.what}",
                transform=ax.transAxes, ha="center", va="center", color="grey",
            )  # fmt: skip
            return None
        return ax.axvline(
            best.epoch, color="grey", linestyle="--", label=f"best epoch ({best.epoch})"
        )

    def _add_legend(self):
        """One legend for the lines of both axes."""
        lines = [
            line
            for line in (
                self.line_,
                self.validation_loss_line_,
                self.validation_score_line_,
                self.best_epoch_line_,
            )
            if line is not None
        ]
        # The legend goes on the top-most axes so no curve is drawn over it.
        top = self.ax_ if self.score_ax_ is None else self.score_ax_
        top.legend(lines, [line.get_label() for line in lines], loc="center right")


def _check_has_epochs(loss_curve, name):
    """Raise if ``loss_curve`` has no epoch: an empty plot would explain nothing."""
    if len(loss_curve) == 0:
        raise ValueError(
            f"LossCurveDisplay has nothing to draw: {name} is empty, so no epoch "
            "was recorded. Pass the loss_curve_ of a fitted model (a fit records "
            "at least one epoch), or fit the model first."
        )


def _plot_curve(ax, values, label, color):
    """Plot ``values`` against epochs 1, 2, ...; None when there are none."""
    if values is None or len(values) == 0:
        return None
    epochs = np.arange(1, len(values) + 1)
    (line,) = ax.plot(epochs, np.asarray(values, dtype=float), label=label, color=color)
    return line
