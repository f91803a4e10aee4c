"""Plain-text reports: the per-epoch table of ``verbose=True`` and summaries.

Nothing here trains. :class:`EpochTable` is the training loop's hook that
prints the table; the other names only format lines.
"""

import numpy as np

from .training import TrainingHook

__all__ = [
    "EpochTable",
    "epoch_header",
    "epoch_row",
    "best_epoch_line",
    "NetworkSummary",
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


def best_epoch_line(epoch, what, value):
    """Closing line of the table, e.g. ``best epoch: 12 (train loss 0.0123)``."""
    return f"best epoch: {epoch} ({what} {value:.6f})"


class EpochTable(TrainingHook):
    """Prints the epoch table while the training loop runs (``verbose=True``).

    ``fit`` prints a header, one row per epoch and the best epoch at the
    end; ``partial_fit`` prints the header on a model's first epoch only,
    then one row per call.
    """

    def train_begin(self, loop, with_validation):
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
        history = loop.history
        if loop.settings.incremental or not history.loss_curve:
            return
        scores = history.validation_scores
        if scores and np.any(np.isfinite(scores)):
            best = int(np.nanargmax(scores))
            print(best_epoch_line(best + 1, "valid score", scores[best]))
        elif np.any(np.isfinite(history.loss_curve)):
            best = int(np.nanargmin(history.loss_curve))
            print(best_epoch_line(best + 1, "train loss", history.loss_curve[best]))


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
        ``(index, layer_repr, output_width, n_params)`` for each layer.
    n_inputs : int
        Width of the network's input.
    n_params : int
        Number of trainable parameters in all layers.
    """

    def __init__(self, network):
        self.n_inputs = network.n_inputs
        self.rows = [
            (index, repr(layer), width, _count_params(layer))
            for index, (layer, width) in enumerate(
                zip(network.layers, network.widths, strict=True)
            )
        ]
        self.n_params = sum(row[3] for row in self.rows)

    def __str__(self):
        lines = [("", "input", f"{self.n_inputs:,}", "")]
        lines += [
            (str(index), text, f"{width:,}", f"{count:,}")
            for index, text, width, count in self.rows
        ]
        lines.append(("", "total", "", f"{self.n_params:,}"))
        name_width = max(len("layer"), *(len(line[1]) for line in lines))
        header = f"{'#':>3}  {'layer':<{name_width}}  {'output':>8}  {'params':>10}"
        rule = "-" * len(header)
        body = [
            f"{index:>3}  {text:<{name_width}}  {width:>8}  {count:>10}"
            for index, text, width, count in lines
        ]
        lines = [header, rule, *body[:-1], rule, body[-1]]
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__


def _count_params(layer):
    """Number of values in a layer's parameter arrays."""
    return int(sum(array.size for array in layer.params.values()))
