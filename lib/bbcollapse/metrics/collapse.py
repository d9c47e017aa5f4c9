"""Collapse of controlled strength, for measuring what each metric sees (issue 17).

Not an equation of paper 000.  Two knobs:

* **duplicates** (paper 000 Sec. 4.2's RIC-aug, made gradual): a fraction f of a sample set of n is
  replaced by copies of a few source samples, exact copies or jittered near-duplicates (views of
  the source).  :func:`plant_duplicates` draws the indices; the caller gathers features and images;
* **truncation** (the truncation trick, Brock et al. 2019): latents from the standard normal
  truncated to ``[-psi, psi]`` per coordinate (:func:`truncated_normal`), exact by the inverse CDF;
  ``psi = inf`` is the untruncated prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_int

__all__ = ["PlantedDuplicates", "plant_duplicates", "truncated_normal"]


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


def truncated_normal(seed: int, n: int, dim: int, psi: float) -> np.ndarray:
    """Latents (n, dim) float32 from N(0, 1) truncated to [-psi, psi] per coordinate (inverse CDF).

    ``psi = inf`` gives the plain standard normal (``numpy.random.default_rng(seed)``'s, as the face
    generator draws it); any finite ``psi > 0`` draws ``Phi^-1(U(Phi(-psi), Phi(psi)))``.
    """
    from scipy.special import ndtr, ndtri

    n, dim = check_int(n, "n"), check_int(dim, "dim", minimum=1)
    psi = float(psi)
    if not psi > 0:
        raise ValueError(f"psi must be > 0 (inf: no truncation); got {psi!r}")
    rng = np.random.default_rng(seed)
    if np.isinf(psi):
        return rng.standard_normal((n, dim)).astype(np.float32)
    lo = ndtr(-psi)
    u = lo + (1.0 - 2.0 * lo) * rng.random((n, dim))
    return ndtri(u).astype(np.float32)
