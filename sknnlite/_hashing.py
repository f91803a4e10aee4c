"""Counter-based random numbers keyed by sample: the same row, the same draw.

Dropout uses these so that a sample repeated ``k`` times in a batch and the
same sample given weight ``k`` are trained identically: each copy of a row
gets the mask that the weighted row gets.
"""

import numpy as np

__all__ = ["row_keys", "keyed_uniform_bits"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# Keep sign, exponent and 28 mantissa bits: a row's key survives the last-bit
# rounding differences that batch composition can cause in a dot product.
_QUANTISE = np.uint64(0xFFFFFFFFFF000000)


def row_keys(x, projection):
    """One ``uint64`` key per row of ``x``: a quantised random projection.

    Parameters
    ----------
    x : ndarray or sparse matrix of shape (n_samples, n_features)
    projection : ndarray of shape (n_features,)
        Random vector fixed for the network.

    Returns
    -------
    keys : ndarray of shape (n_samples,), dtype uint64
    """
    fingerprint = np.asarray(x @ projection, dtype=np.float64).reshape(-1)
    return fingerprint.view(np.uint64) & _QUANTISE


def keyed_uniform_bits(keys, n_columns, step_key, out):
    """Fill ``out`` (uint64, ``(len(keys), n_columns)``) with 53 random bits each.

    Entry ``(i, j)`` depends only on ``keys[i]``, ``j`` and ``step_key``
    (SplitMix64's finaliser), so equal keys give equal rows.
    """
    columns = (np.arange(1, n_columns + 1, dtype=np.uint64) * _GOLDEN) ^ np.uint64(
        step_key
    )
    np.add(keys[:, None], columns[None, :], out=out)
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        out ^= out >> np.uint64(shift)
        out *= multiplier
    out ^= out >> np.uint64(31)
    out >>= np.uint64(11)
    return out
