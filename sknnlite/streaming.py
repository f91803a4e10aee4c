"""Out-of-core training: feed data larger than memory to ``partial_fit``.

The data stays where it is (a NumPy memmap, a Dask array, an HDF5 or Zarr
dataset, a DataFrame); only one chunk of rows is read into memory at a time.
Each epoch visits the chunks once, in an order shuffled afresh every epoch,
and the estimator's ``partial_fit`` (which for sknnlite shuffles the rows
within the chunk) makes one pass over each. Memory is then bounded by the
chunk size, whatever the number of rows.

Nothing here imports Dask: a chunk is materialised with ``.compute()`` if it
has one, so Dask stays an optional dependency.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from ._base import _make_generator
from ._config import refuse_bool_numbers

__all__ = ["fit_chunks", "iter_chunks"]

_ITER_CHUNKS_PARAMETERS = {
    "X": ["array-like", "sparse matrix"],
    "y": ["array-like"],
    "chunk_rows": [Interval(Integral, 1, None, closed="left"), None],
    "sample_weight": ["array-like", None],
    "random_state": ["random_state"],
}

_FIT_CHUNKS_PARAMETERS = {
    "estimator": [HasMethods(["partial_fit"])],
    **_ITER_CHUNKS_PARAMETERS,
    "n_epochs": [Interval(Integral, 1, None, closed="left")],
}


@validate_params(_ITER_CHUNKS_PARAMETERS, prefer_skip_nested_validation=True)
def iter_chunks(X, y, chunk_rows=None, *, sample_weight=None, random_state=None):
    """The chunks of one epoch, in random order, each read into memory.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Training data, read one chunk at a time: a NumPy array or memmap, a
        Dask array, a DataFrame, or anything sliceable by rows (HDF5, Zarr).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, sliced like ``X``.
    chunk_rows : int or None, default=None
        Rows per chunk (the last may be shorter). ``None`` uses the row
        chunks of a Dask array ``X``; other inputs need a number.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights, sliced like ``X``.
    random_state : int, RandomState instance or None, default=None
        Seeds the chunk order. An int gives the same order at every call;
        pass a ``RandomState`` instance for a new order each epoch.

    Returns
    -------
    chunks : iterator of tuple
        ``(X_chunk, y_chunk, sample_weight_chunk)`` for every chunk, each
        read when the iterator reaches it: ``X_chunk`` of shape
        ``(n_chunk_rows, n_features)`` (an ndarray, a sparse matrix or a
        DataFrame), ``y_chunk`` of shape ``(n_chunk_rows,)`` or
        ``(n_chunk_rows, n_outputs)``, ``sample_weight_chunk`` of shape
        ``(n_chunk_rows,)`` or None. Bad arguments raise at the call.

    Examples
    --------
    >>> import numpy as np
    >>> from sknnlite.streaming import iter_chunks
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5.0)
    >>> [len(y_chunk) for _, y_chunk, _ in iter_chunks(X, y, 2, random_state=0)]
    [1, 2, 2]
    """
    refuse_bool_numbers(
        _ITER_CHUNKS_PARAMETERS,
        {"chunk_rows": chunk_rows, "random_state": random_state},
        "iter_chunks",
    )
    bounds = _chunk_bounds(X, y, sample_weight, chunk_rows)
    order = _make_generator(random_state).permutation(len(bounds))
    return _read_chunks((X, y, sample_weight), bounds, order)


@validate_params(_FIT_CHUNKS_PARAMETERS, prefer_skip_nested_validation=False)
def fit_chunks(
    estimator,
    X,
    y,
    chunk_rows=None,
    n_epochs=1,
    random_state=None,
    sample_weight=None,
    **partial_fit_params,
):
    """Train ``estimator`` with ``partial_fit``, one chunk of rows at a time.

    Each epoch shuffles the order of the chunks once, then calls
    ``estimator.partial_fit`` on every chunk, read into memory just before
    (``np.asarray`` of a memmap slice, ``.compute()`` of a Dask slice).
    sknnlite estimators shuffle the rows within each chunk themselves
    (``shuffle=True``), seeded by their own ``random_state``.

    Parameters
    ----------
    estimator : estimator instance
        Anything with ``partial_fit``, e.g. :class:`~sknnlite.NNRegressor`
        or ``SGDRegressor``. Trained in place; a fitted estimator continues
        from its current state, as ``partial_fit`` does (``clone`` it to
        start afresh).
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Training data: a NumPy array or memmap, a Dask array, a DataFrame,
        or anything sliceable by rows (HDF5, Zarr).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, sliced like ``X``.
    chunk_rows : int or None, default=None
        Rows read into memory at once (the last chunk may be shorter).
        ``None`` uses the row chunks of a Dask array ``X``. A chunk with
        fewer rows than the estimator's layers need in a training batch
        (``BatchNorm``: 2) is joined to the chunk before it.
    n_epochs : int, default=1
        Passes over the whole data.
    random_state : int, RandomState instance or None, default=None
        Seeds the chunk order (a NumPy Generator; the global random state is
        never used). The rows within a chunk are shuffled by the estimator.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights, sliced like ``X`` and passed to ``partial_fit``.
    **partial_fit_params : dict
        Passed to every ``partial_fit`` call unchanged (e.g. ``classes``).

    Returns
    -------
    estimator : estimator instance
        The trained ``estimator``.

    Notes
    -----
    The counters are those of ``partial_fit``, not of ``fit``: an sknnlite
    estimator counts each ``partial_fit`` call as an epoch, so with
    ``n_chunks = ceil(n_samples / chunk_rows)`` chunks, ``n_iter_`` grows by
    ``n_epochs * n_chunks``, ``loss_curve_`` gets one entry (the chunk's
    mean training loss) per chunk, and ``t_`` grows by
    ``n_epochs * n_samples``, the rows actually seen.

    :class:`~sknnlite.NNRegressor` standardises the target with the mean and
    standard deviation of the first chunk it is trained on. That is a random
    chunk here, which represents the data well when the rows are stored in
    random order; shuffle the file once when it is sorted (by time, target
    or class), as chunk-order shuffling alone cannot mix rows across chunks.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sknnlite import NNRegressor
    >>> from sknnlite.streaming import fit_chunks
    >>> X, y = make_friedman1(n_samples=1000, random_state=0)
    >>> model = fit_chunks(NNRegressor(random_state=0), X, y, chunk_rows=250,
    ...                    n_epochs=3, random_state=0)
    >>> model.n_iter_, model.t_
    (12, 3000)
    """
    refuse_bool_numbers(
        _FIT_CHUNKS_PARAMETERS,
        {"chunk_rows": chunk_rows, "n_epochs": n_epochs, "random_state": random_state},
        "fit_chunks",
    )
    bounds = _chunk_bounds(X, y, sample_weight, chunk_rows)
    bounds = _merge_short_chunks(bounds, _min_batch_rows(estimator))
    rng = _make_generator(random_state)
    for _ in range(n_epochs):
        order = rng.permutation(len(bounds))
        chunks = _read_chunks((X, y, sample_weight), bounds, order)
        for X_chunk, y_chunk, w_chunk in chunks:
            weight = {} if w_chunk is None else {"sample_weight": w_chunk}
            estimator.partial_fit(X_chunk, y_chunk, **weight, **partial_fit_params)
    return estimator


def _chunk_bounds(X, y, sample_weight, chunk_rows):
    """``(start, stop)`` rows of every chunk, after checking the lengths agree."""
    n_samples = _n_rows(X, "X")
    for name, array in (("y", y), ("sample_weight", sample_weight)):
        if array is not None and _n_rows(array, name) != n_samples:
            raise ValueError(
                f"{name} has {_n_rows(array, name)} rows but X has {n_samples}; "
                "they must have one row per sample."
            )
    if chunk_rows is None:
        stops = np.cumsum(_dask_row_chunks(X))
    else:
        stops = np.minimum(
            np.arange(chunk_rows, n_samples + chunk_rows, chunk_rows), n_samples
        )
    starts = np.concatenate([[0], stops])[:-1]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b > a]


def _min_batch_rows(estimator):
    """Fewest rows a ``partial_fit`` call needs (``BatchNorm`` in the layers: 2)."""
    layers = getattr(estimator, "layers", None) or []
    return max((getattr(layer, "min_batch_rows", 1) for layer in layers), default=1)


def _merge_short_chunks(bounds, min_rows):
    """Join every chunk of fewer than ``min_rows`` rows to the chunk before it."""
    merged = []
    for start, stop in bounds:
        if merged and (
            stop - start < min_rows or merged[-1][1] - merged[-1][0] < min_rows
        ):
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _n_rows(array, name):
    """Number of rows of ``array``, or a clear error when it is unknown."""
    n_rows = array.shape[0] if hasattr(array, "shape") else len(array)
    if not isinstance(n_rows, Integral):
        raise ValueError(
            f"{name} has an unknown number of rows ({n_rows}), as a Dask array "
            f"made from a DataFrame has. Call {name}.compute_chunk_sizes() first."
        )
    return int(n_rows)


def _dask_row_chunks(X):
    """Row counts of the chunks of a Dask array; other inputs need ``chunk_rows``."""
    chunks = getattr(X, "chunks", None)  # Zarr and HDF5 have int tuples here
    if not (isinstance(chunks, tuple) and chunks and isinstance(chunks[0], tuple)):
        raise ValueError(
            f"chunk_rows=None takes the chunks of a Dask array, but X is a "
            f"{type(X).__name__}. Pass the number of rows to read at once, "
            "e.g. chunk_rows=10_000."
        )
    return np.asarray(chunks[0], dtype=np.int64)


def _read_chunks(arrays, bounds, order):
    """Yield each array's rows of the chunks ``bounds[order]``, in memory."""
    for index in order:
        start, stop = bounds[index]
        yield tuple(_read_rows(array, start, stop) for array in arrays)


def _read_rows(array, start, stop):
    """Rows ``start:stop`` of ``array`` as an in-memory object (None stays None)."""
    if array is None:
        return None
    rows = array.iloc[start:stop] if hasattr(array, "iloc") else array[start:stop]
    if hasattr(rows, "compute"):
        rows = rows.compute()  # a Dask array: this reads the chunk
    if isinstance(rows, np.ndarray):
        rows = np.asarray(rows)  # a memmap slice becomes a plain ndarray view
    return rows
