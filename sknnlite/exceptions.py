"""Warnings raised by sknnlite."""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["DivergenceWarning", "SknnliteVersionWarning"]


class DivergenceWarning(ConvergenceWarning):
    """Training diverged: the loss became non-finite or exploded.

    Training stops at once, the weights of the best epoch seen are restored
    and the optimizer state is reset, so the model is never left with
    diverged weights.
    """


class SknnliteVersionWarning(UserWarning):
    """A model pickled with another sknnlite version was loaded."""
