"""Collapse of controlled strength, for measuring what each metric sees (issue 17).

Not an equation of paper 000.  **Duplicates** (paper 000 Sec. 4.2's RIC-aug, made gradual): a
fraction f of a sample set of n is replaced by copies of a few source samples, exact copies or
jittered near-duplicates (views of the source).  :func:`plant_duplicates` draws the indices and
:func:`gather_planted` assembles the set from aligned arrays (features, images, class probabilities)
of the pool, the sources and their views.  (The other knob of the book, truncation, is the face
generator's own: ``bbcollapse.subjects.faces.FaceDCGAN(psi=...)``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_int

__all__ = ["PlantedDuplicates", "plant_duplicates", "gather_planted"]


@dataclass(frozen=True, eq=False)
class PlantedDuplicates:
    """Indices of one sample set with planted duplicates.

    Attributes
    ----------
    keep : (n - n_dup,) int64     indices into the pool of ordinary samples (without replacement)
    source : (n_dup,) int64       source of each duplicate (an index into the bank of sources)
    view : (n_dup,) int64         view of that source for jittered copies (index < n_views); -1 for exact copies
    """

    keep: np.ndarray
    source: np.ndarray
    view: np.ndarray

    @property
    def n_duplicates(self) -> int:
        return len(self.source)

    def __repr__(self):
        kind = "exact" if (self.view < 0).all() else "jittered"
        return (
            f"PlantedDuplicates(n={len(self.keep) + len(self.source)}, duplicates={len(self.source)} ({kind}) "
            f"of {len(np.unique(self.source))} sources)"
        )


def plant_duplicates(
    *, pool_size: int, n: int, fraction: float, n_sources: int, bank_size: int, n_views: int = 0, seed: int = 0
) -> PlantedDuplicates:
    """Draw one set of ``n``: ``n - round(f n)`` ordinary samples and ``round(f n)`` copies of ``n_sources`` sources.

    Parameters
    ----------
    pool_size : number of ordinary samples to draw from (without replacement)
    n : size of the set
    fraction : f in [0, 1), the share of duplicates
    n_sources : number of distinct sources (drawn without replacement from the bank), copied in turn
    bank_size : number of candidate sources
    n_views : 0 for exact copies; else the number of jittered views per source, drawn without
        replacement while they last (then cycled)
    seed : seed of every draw

    Returns
    -------
    PlantedDuplicates
    """
    n = check_int(n, "n", minimum=1)
    pool_size, bank_size = check_int(pool_size, "pool_size", minimum=1), check_int(bank_size, "bank_size", minimum=1)
    k, n_views = check_int(n_sources, "n_sources", minimum=1), check_int(n_views, "n_views", minimum=0)
    f = check_fraction(fraction, "fraction", open_low=False)
    n_dup = int(round(f * n))
    if n - n_dup > pool_size:
        raise ValueError(f"pool_size ({pool_size}) must hold the {n - n_dup} ordinary samples of the set")
    if k > bank_size:
        raise ValueError(f"n_sources ({k}) must be at most bank_size ({bank_size})")
    rng = np.random.default_rng(seed)
    keep = rng.choice(pool_size, n - n_dup, replace=False)
    chosen = rng.choice(bank_size, k, replace=False)
    source = np.resize(chosen, n_dup)  # copies spread evenly over the sources
    view = np.full(n_dup, -1, np.int64)
    if n_views:
        for j in chosen:
            at = np.flatnonzero(source == j)
            order = rng.permutation(n_views)
            view[at] = order[np.arange(len(at)) % n_views]
    return PlantedDuplicates(keep=keep.astype(np.int64), source=source.astype(np.int64), view=view)


def gather_planted(
    planted: PlantedDuplicates,
    *,
    pool: Mapping[str, np.ndarray],
    sources: Mapping[str, np.ndarray],
    views: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """The arrays of one planted set: ``pool[k][keep]`` followed by the copies, for every key k of ``pool``.

    Parameters
    ----------
    planted : the indices (:func:`plant_duplicates`)
    pool : name -> (pool_size, ...) arrays with aligned rows (e.g. features, images)
    sources : name -> (bank_size, ...) arrays of the sources (exact copies are ``sources[k][source]``)
    views : name -> (bank_size, n_views, ...) arrays of the sources' views (jittered copies are
        ``views[k][source, view]``); required when ``planted`` holds views

    Returns
    -------
    dict name -> (n, ...) array, in the pool's dtype
    """
    jittered = bool((planted.view >= 0).any())
    if jittered and views is None:
        raise ValueError("the planted set holds jittered copies: pass views")
    out = {}
    for k, a in pool.items():
        a = np.asarray(a)
        copies = views[k][planted.source, planted.view] if jittered else sources[k][planted.source]
        out[k] = np.concatenate([a[planted.keep], np.asarray(copies, dtype=a.dtype)])
    return out
