"""Dense modes (paper 000, Eq. 9): the worst-case anchor I_w and the distinct dense modes.

The one tie rule of the package lives here: the worst case is the anchor with the largest
neighbour count, the lowest index on ties (:func:`worst_index`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["worst_index"]


def worst_index(counts) -> int:
    """I_w = argmax over anchors of N(I', C, r) (Eq. 9); the lowest index on ties.

    Parameters
    ----------
    counts : (m,) neighbour counts, one per anchor

    Returns
    -------
    int, the index of I_w in the anchors
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.shape[0] == 0:
        raise ValueError(f"counts must be a non-empty 1-D array (one count per anchor); got shape {counts.shape}")
    return int(np.argmax(counts))  # np.argmax returns the first maximum: the lowest index on ties
