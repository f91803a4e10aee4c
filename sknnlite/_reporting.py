"""Plain-text reports: the per-epoch table of ``verbose=True`` and summaries.

Nothing here trains. :class:`EpochTable` is the training loop's hook that
prints the table; the other names only format lines. :func:`find_best_epoch`
is the one place that picks the best epoch of a history, for the table and
for :class:`~sknnlite.display.LossCurveDisplay`.
"""

from typing import NamedTuple

import numpy as np

from .training import TrainingHook

__all__ = [
    "BestEpoch",
    "EpochTable",
    "NetworkSummary",
    "best_epoch_line",
    "epoch_header",
    "epoch_row",
    "find_best_epoch",
]

_EPOCH_COLUMNS = [("epoch", 6), ("train loss", 13)]
_VALIDATION_COLUMNS = [("valid loss", 13), ("valid score", 13)]
_TAIL_COLUMNS = [("best", 6), ("sec", 9)]


def _epoch_columns(with_validation):
    """(title, width) of each column of the epoch table."""
    middle = _VALIDATION_COLUMNS if with_validation else []
    return _EPOCH_COLUMNS + middle + _TAIL_COLUMNS


def epoch_header(with_validation):
    """Title line and rule of the epoch table."""
    columns = _epoch_columns(with_validation)
    titles = "".join(f"{title:>{width}}" for title, width in columns)
    return f"{titles}\n{'-' * len(titles)}"


def epoch_row(epoch, loss, seconds, is_best, validation=None):
    """One line of the epoch table.

    Parameters
    ----------
    epoch : int
        Epoch number, counted from 1.
    loss : float
        Training loss of the epoch.
    seconds : float
        Wall-clock time the epoch took.
    is_best : bool
        Whether the epoch is the best so far; marked with ``*``.
    validation : tuple of (float, float) or None
        Validation loss and score, with early stopping.
    """
    cells = [f"{epoch:>6d}", f"{loss:>13.6f}"]
    if validation is not None:
        validation_loss, score = validation
        cells += [f"{validation_loss:>13.6f}", f"{score:>13.6f}"]
    cells += [f"{'*' if is_best else '':>6}", f"{seconds:>9.4f}"]
    return "".join(cells)


class BestEpoch(NamedTuple):
    """The best epoch of a history, as :func:`find_best_epoch` picks it."""

    #: Epoch counted from 1, or None when no value is finite (or none recorded).
    epoch: int | None
    #: The history that decided: ``"valid score"`` or ``"train loss"``.
    what: str
    #: Its value at ``epoch``, or None.
    value: float | None


def find_best_epoch(loss_curve, validation_scores=None):
    """Pick the best epoch: highest validation score, else lowest training loss.

    The validation scores decide whenever there are any, as they do for
    early stopping (whose restored weights are those of this epoch).
    NaN and infinite values are never chosen; ties go to the earliest epoch.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch (``loss_curve_``); may be empty.
    validation_scores : array-like of shape (n_validated,) or None
        Validation score per epoch (``validation_scores_``).

    Returns
    -------
    best : BestEpoch
        ``best.epoch`` is None when the deciding history is empty or has no
        finite value.
    """
    if validation_scores is not None and len(validation_scores):
        values, what, pick = validation_scores, "valid score", np.nanargmax
    else:
        values, what, pick = loss_curve, "train loss", np.nanargmin
    values = np.asarray(values, dtype=float)
    finite = np.where(np.isfinite(values), values, np.nan)
    if np.isnan(finite).all():  # also true when there are no values
        return BestEpoch(None, what, None)
    index = int(pick(finite))
    return BestEpoch(index + 1, what, float(values[index]))


def best_epoch_line(loss_curve, validation_scores=None):
    """Closing line of the table, e.g. ``best epoch: 12 (train loss 0.012300)``.

    The epoch is chosen by :func:`find_best_epoch`. Returns
    ``"best epoch: none (no finite train loss)"`` when no value is finite,
    and None when ``loss_curve`` is empty (no epoch, nothing to close).
    """
    if len(loss_curve) == 0:
        return None
    best = find_best_epoch(loss_curve, validation_scores)
    if best.epoch is None:
        return f"best epoch: none (no finite {best.what})"
    return f"best epoch: {best.epoch} ({best.what} {best.value:.6f})"


class EpochTable(TrainingHook):
    """Prints the epoch table while the training loop runs (``verbose=True``).

    ``fit`` prints a header, one row per epoch and the best epoch at the
    end; ``partial_fit`` prints the header on a model's first epoch only,
    then one row per call.
    """

    def train_begin(self, loop, with_validation):
        self.with_validation = with_validation
        if not loop.settings.incremental or loop.history.n_iter == 0:
            print(epoch_header(with_validation=with_validation))

    def epoch_end(self, loop, record):
        validation = None
        if record.validation_score is not None:
            validation = (record.validation_loss, record.validation_score)
        print(
            epoch_row(
                record.epoch, record.loss, record.seconds, record.is_best, validation
            )
        )
        return False

    def message(self, loop, text):
        print(text)

    def train_end(self, loop):
        if loop.settings.incremental:
            return
        history = loop.history
        scores = history.validation_scores if self.with_validation else None
        line = best_epoch_line(history.loss_curve, scores)
        if line:
            print(line)


class NetworkSummary:
    """Layers of a built network with their output widths and parameter counts.

    Its ``str`` and ``repr`` are a table, so ``print(model.summary())`` and
    ``model.summary()`` at a prompt both show it.

    Parameters
    ----------
    network : Network
        A built network.

    Attributes
    ----------
    rows : list of tuple
        ``(index, layer_repr, output_width, n_params)`` for each layer. A
        container layer (:mod:`sknnlite.blocks`) is followed by a row per
        member, whose ``index`` is a path such as ``"2.0"`` or
        ``"2.projection"`` (a ``str``; the network's own layers have ``int``
        indices) and whose parameters are counted in the container's row.
        The table indents members under their container.
    n_inputs : int
        Width of the network's input.
    n_params : int
        Number of trainable parameters in all layers.
    """

    def __init__(self, network):
        self.n_inputs = network.n_inputs
        self.rows = []
        for index, (layer, width) in enumerate(
            zip(network.layers, network.widths, strict=True)
        ):
            self._add_rows(index, layer, width)
        self.n_params = sum(row[3] for row in self.rows if isinstance(row[0], int))

    def _add_rows(self, index, layer, width):
        """The row of ``layer``, then those of its members (containers)."""
        members = getattr(layer, "_summary_members", None)
        label = layer._summary_label() if members else repr(layer)
        self.rows.append((index, label, width, _count_params(layer)))
        for key, member, member_width in members() if members else ():
            self._add_rows(f"{index}.{key}", member, member_width)

    def __str__(self):
        lines = [("", "input", f"{self.n_inputs:,}", "")]
        lines += [
            (str(index), _indent(index) + text, f"{width:,}", f"{count:,}")
            for index, text, width, count in self.rows
        ]
        lines.append(("", "total", "", f"{self.n_params:,}"))
        name_width = max(len("layer"), *(len(line[1]) for line in lines))
        index_width = max(3, *(len(line[0]) for line in lines))
        header = (
            f"{'#':>{index_width}}  {'layer':<{name_width}}  {'output':>8}  "
            f"{'params':>10}"
        )
        rule = "-" * len(header)
        body = [
            f"{index:>{index_width}}  {text:<{name_width}}  {width:>8}  {count:>10}"
            for index, text, width, count in lines
        ]
        lines = [header, rule, *body[:-1], rule, body[-1]]
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__


def _indent(index):
    """Two spaces per level of nesting: ``"2.0"`` is one level in."""
    return "  " * str(index).count(".")


def _count_params(layer):
    """Number of values in a layer's parameter arrays."""
    return int(sum(array.size for array in layer.params.values()))
