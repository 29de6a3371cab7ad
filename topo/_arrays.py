"""Array helpers for hot paths."""

from __future__ import annotations

import numpy as np


def unique(a: np.ndarray | list[float] | list[int]) -> np.ndarray:
    """``np.unique(a)`` (sorted distinct values) for arrays without NaN.

    ``np.unique`` asks ``np.ma`` whether its input is masked, which imports numpy's masked
    arrays (about 10 ms) on first use; a study needs them nowhere else.
    """
    s = np.sort(np.asarray(a).ravel())
    if not s.size:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
