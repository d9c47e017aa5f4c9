"""The worst-case dense mode I_w (paper 000, Eq. 9) and a selection-aware test of its curve.

I_w is an argmax over |A| anchors; comparing its neighbour curve with the curves of *random*
anchors (seed 001, Algorithm 1) tests something that is true by construction whenever the anchor
selection and the curve share samples (and says nothing about "collapse" otherwise).
:func:`null_worst_case_curves` simulates the whole selection pipeline in reference ("null")
worlds and :func:`worst_case_test` compares the observed worst-case curve with the worst-case
curves of those worlds, i.e. with the null distribution of a maximum.  Why null worlds and not a
resampling of the reference anchors: the reference anchors come from the *same* generator as A,
so "the max over random subsets of |A| reference anchors" is by construction distributed like I_w
itself, whatever the amount of collapse; its p-value would be uniform under every alternative.  A
null world must be something that is *not* the generator: the real data the generator imitates
(embedded by the same descriptor), or, for the planted sphere, the same sphere without planted
identities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._progress import progress_bar
from .._validation import check_int, check_option, check_unit_interval
from ..distance import validate_unit
from ..neighbors import PAPER_GRID, neighbor_stats
from .envelope import GlobalEnvelopeTest, check_grid, global_envelope_test, neighbor_curves
from .modes import neighbor_counts, worst_index

__all__ = ["WorstCase", "null_worst_case_curves", "worst_case_curves", "worst_case_test"]

SELECTIONS = ("anchors", "samples")


@dataclass(repr=False)
class WorstCase:
    """The worst-case anchor I_w, its neighbour curve and reference curves (Algorithm 1).

    Attributes
    ----------
    worst : int                 index of I_w in the anchors
    count : int                 its selection count N(I_w, ., r)
    curve : (G,) int64          N(I_w, samples, d) on the grid
    ref_index : (q,) int64      indices of the random reference anchors R_ref (I_w excluded)
    ref_curves : (q, G) int64   their curves
    grid : (G,) float64
    r : float                   selection radius
    selection : "anchors" or "samples"
    """

    worst: int
    count: int
    curve: np.ndarray
    ref_index: np.ndarray
    ref_curves: np.ndarray
    grid: np.ndarray
    r: float
    selection: str

    def __repr__(self):
        return (
            f"WorstCase(worst={self.worst}, count={self.count}, r={self.r}, selection={self.selection!r}, "
            f"n_ref={len(self.ref_index)}, curve_end={int(self.curve[-1])})"
        )


def worst_case_curves(
    anchors,
    samples,
    *,
    r: float = 0.25,
    n_ref: int | None = None,
    grid=PAPER_GRID,
    selection: str = "anchors",
    seed: int = 0,
    **engine_kwargs,
) -> WorstCase:
    """Select I_w and compute its neighbour curve and those of q random reference anchors.

    ``selection="anchors"`` follows seed 001, Algorithm 1: ``N(I, S minus I, r)`` is
    counted inside the anchor set S = ``anchors`` (self excluded) and the curves are
    counted on the independent ``samples`` T.  ``selection="samples"`` follows paper
    000 and the authors' code: ``I_w = argmax N(I, C, r)`` on the same samples whose
    curves are then compared, so the curve at d = r is a maximum by construction.

    Parameters
    ----------
    anchors : (m, D) unit vectors (S, or A)
    samples : (n, D) unit vectors (T, or C)
    r : selection radius (the authors use 0.25)
    n_ref : number q of reference anchors drawn at random from the anchors other than
        I_w (default: all of them)
    grid : curve grid
    selection : "anchors" or "samples"
    seed : seed of the reference draw
    **engine_kwargs : passed to :func:`bbcollapse.neighbor_stats`

    Returns
    -------
    WorstCase
    """
    check_option(selection, SELECTIONS, "selection")
    a = validate_unit(anchors, "anchors")
    grid = check_grid(grid)
    (r,) = check_unit_interval(r, "r")
    m = a.shape[0]
    n_ref = m - 1 if n_ref is None else int(n_ref)
    if not (0 <= n_ref <= m - 1):
        raise ValueError(f"n_ref must be between 0 and len(anchors) - 1 = {m - 1}; got {n_ref}")
    if selection == "anchors":
        st = None
        counts = neighbor_counts(a, a, r=r, **engine_kwargs) - 1  # minus self
    else:  # one engine pass gives the selection counts and every anchor's curve
        st = neighbor_stats(anchors=a, samples=samples, radii=(r,), grid=grid, **engine_kwargs)
        counts = st.counts[:, 0]
    worst = worst_index(counts)
    rng = np.random.default_rng(seed)
    ref_index = np.sort(rng.choice(np.delete(np.arange(m), worst), size=n_ref, replace=False))
    if st is None:
        curves = neighbor_curves(a[np.concatenate([[worst], ref_index])], samples, grid=grid, **engine_kwargs)
        curve, ref_curves = curves[0], curves[1:]
    else:
        curve, ref_curves = st.curve[worst], st.curve[ref_index]
    return WorstCase(
        worst=worst,
        count=int(counts[worst]),
        curve=curve,
        ref_index=ref_index.astype(np.int64),
        ref_curves=ref_curves,
        grid=grid,
        r=float(r),
        selection=selection,
    )


def _embeddings(out):
    """The (n, D) array of a null world's draw: a Batch's ``x``, or the array itself."""
    x = getattr(out, "x", out)
    return np.asarray(x)


def null_worst_case_curves(
    null_world: Callable,
    *,
    n_anchors: int,
    n_samples: int,
    n_worlds: int = 199,
    r: float = 0.25,
    grid=PAPER_GRID,
    selection: str = "anchors",
    seed: int = 0,
    progress: bool | None = None,
    **engine_kwargs,
) -> np.ndarray:
    """Worst-case curves of ``n_worlds`` independent null worlds (the null law of a maximum).

    Each world draws ``n_anchors`` anchors and ``n_samples`` samples from
    ``null_world`` and runs exactly the selection of :func:`worst_case_curves`; the
    curve of its I_w is kept.  Use the same sizes, r, grid and selection as for the
    observed worst case, otherwise the comparison is meaningless.

    Parameters
    ----------
    null_world : callable ``(seed, n) -> (n, D) unit vectors`` (or a Batch, whose ``x``
        is used): a world *without* collapse, e.g. embedded real data, or for the
        planted sphere ``PlantedSphere(dim, masses=())``.
    n_anchors, n_samples : |A| (or |S|) and |C| (or |T|) of the observed run
    n_worlds : number of null worlds s (>= ceil(1/alpha) - 1 for a test at alpha)
    r, grid, selection : as in :func:`worst_case_curves`
    seed : world i draws its anchors and samples from seeds spawned from ``(seed, i)``
    progress : a progress bar over the worlds (default: only on a terminal)
    **engine_kwargs : passed to :func:`bbcollapse.neighbor_stats` (its own per-call bar is off unless
        ``engine_kwargs`` asks for it: one bar over the worlds, not two per world)

    Returns
    -------
    (n_worlds, G) int64 array
    """
    if not callable(null_world):
        raise TypeError(
            f"null_world must be a callable (seed, n) -> (n, D) unit vectors; got {type(null_world).__name__}"
        )
    n_worlds = check_int(n_worlds, "n_worlds", minimum=1)
    grid = check_grid(grid)
    out = np.empty((n_worlds, grid.shape[0]), dtype=np.int64)
    engine_kwargs.setdefault("progress", False)
    with progress_bar(progress, total=n_worlds, desc="null worlds") as bar:
        for i in range(n_worlds):
            ss = np.random.SeedSequence([int(seed), i]).generate_state(2)
            anchors = _embeddings(null_world(int(ss[0]), int(n_anchors)))
            samples = _embeddings(null_world(int(ss[1]), int(n_samples)))
            wc = worst_case_curves(anchors, samples, r=r, n_ref=0, grid=grid, selection=selection, **engine_kwargs)
            out[i] = wc.curve
            bar.update()
    return out


def worst_case_test(
    worst: WorstCase,
    null_curves,
    *,
    alpha: float = 0.05,
    kind: str = "erl",
    transform: str | None = "log",
    alternative: str = "greater",
) -> GlobalEnvelopeTest:
    """Selection-aware test of the worst case: its curve against null worlds' worst-case curves.

    Under H0 ("the generator's densest anchor is no denser than the densest of |A|
    anchors in a collapse-free world") the observed curve and the null curves are
    i.i.d. draws of the same maximum, hence exchangeable, and the global envelope test
    is exact.  One-sided ("greater": more clustered) by default: collapse only adds
    neighbours.

    Parameters
    ----------
    worst : the observed :class:`WorstCase` (from :func:`worst_case_curves`)
    null_curves : (s, G) worst-case curves of s null worlds (:func:`null_worst_case_curves`)
    alpha, kind, transform, alternative : as in :func:`global_envelope_test`

    Returns
    -------
    GlobalEnvelopeTest
    """
    if not isinstance(worst, WorstCase):
        raise TypeError(f"worst must be a WorstCase (from worst_case_curves); got {type(worst).__name__}")
    return global_envelope_test(
        worst.curve, null_curves, alpha=alpha, kind=kind, transform=transform, alternative=alternative, grid=worst.grid
    )
