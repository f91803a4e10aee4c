"""Warnings raised by sknnlite; both are importable from ``sknnlite`` too."""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["DivergenceWarning", "SknnliteVersionWarning"]


class DivergenceWarning(ConvergenceWarning):
    """Training diverged: the loss became non-finite or exploded.

    Training stops at once. ``fit`` restores the weights of the best epoch
    seen and resets the optimizer state, so the model is never left with
    diverged weights; a ``partial_fit`` call that diverges is undone. The
    message names the epoch, the loss and the likely cause (the learning
    rate first, then unscaled features). It is a subclass of scikit-learn's
    :class:`~sklearn.exceptions.ConvergenceWarning`, so filters on that
    catch it too.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sknnlite import DivergenceWarning, NNRegressor
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> y = X @ [1.0, 2.0, 3.0]
    >>> model = NNRegressor(learning_rate=10.0, max_iter=20, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model = model.fit(X, y)
    >>> any(issubclass(w.category, DivergenceWarning) for w in caught)
    True
    """


class SknnliteVersionWarning(UserWarning):
    """A model pickled with another sknnlite version was loaded.

    Results may differ from those of the version that saved it: refit the
    model with the version you run. Raised by ``pickle.load``,
    ``joblib.load`` and ``skops.io.load``.

    Examples
    --------
    >>> import pickle
    >>> import warnings
    >>> from sknnlite import NNRegressor
    >>> saved = NNRegressor().__getstate__()
    >>> saved["_sknnlite_version"] = "0.0.1"  # as if pickled by sknnlite 0.0.1
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     NNRegressor().__setstate__(saved)  # what unpickling does
    >>> caught[0].category.__name__
    'SknnliteVersionWarning'
    """
