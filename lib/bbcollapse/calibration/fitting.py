"""The fitting set of a calibrator and the neighbour counts it is fitted on (paper 000, section 3.2, Eq. 5).

Every calibrator is fitted on N latents ``z`` and their embeddings ``F(G(z))``: given as arrays,
read from an :class:`~bbcollapse.store.EmbeddingStore` (resumable, computed once), or sampled
and embedded on the fly (:func:`fit_set`).  What it needs from them are neighbour counts within
``r0`` (Eq. 5, ``N(I', C, r0)``): which fitting embeddings lie near each mode, and how many
neighbours a reference has.  Both go through the engine
(:func:`bbcollapse.neighbors.neighbor_stats`), so they follow the package's one exact rule
(``d <= r0`` iff the float64 dot product is ``>= cos(pi r0)``, ties count) in memory bounded
by a tile, never a dense (N, m) float64 matrix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from .._progress import progress_bar
from .._validation import check_fraction, check_int
from ..blackbox import Descriptor, LatentModel, shard_seed
from ..distance import validate_unit
from ..neighbors import neighbor_stats
from ..store import EmbeddingStore

__all__ = [
    "FitArgs",
    "FitSet",
    "check_latent_model",
    "check_r0",
    "fit_set",
    "generate_and_embed",
    "near_modes",
    "neighbour_counts",
    "unit_modes",
]

#: fitting embeddings per engine call in :func:`near_modes` (they are the engine's anchors,
#: which it holds in float32 and float64; this bounds that copy)
ANCHOR_BLOCK = 65_536


def check_r0(r0) -> float:
    """The neighbour radius r0 as a float in (0, 1] (a normalised angular distance)."""
    return check_fraction(r0, "r0", open_low=True, open_high=False)


def check_latent_model(model) -> None:
    """Raise TypeError unless ``model`` has ``latents(seed, n)`` and ``generate(z)``."""
    for attr in ("latents", "generate"):
        if not callable(getattr(model, attr, None)):
            raise TypeError(
                f"model must be a latent model with latents(seed, n) and generate(z) (see bbcollapse.blackbox); "
                f"{type(model).__name__} has no {attr}()"
            )


def unit_modes(modes) -> np.ndarray:
    """Mode embeddings I_m as an (m, D) float64 array of unit vectors ((D,) is one mode)."""
    m = np.asarray(modes)
    if m.ndim == 1:
        m = m[None, :]
    return validate_unit(m, "modes").astype(np.float64)


def near_modes(embeddings, modes, r0: float) -> np.ndarray:
    """Which embeddings lie within r0 of each mode, counted by the engine.

    The embeddings are the engine's *anchors* and each mode in turn its single *sample*: an
    anchor's count is 1 exactly when it lies within r0 of that mode.  Blocks of
    :data:`ANCHOR_BLOCK` embeddings keep the engine's copy of them bounded.

    Parameters
    ----------
    embeddings : (n, D) unit vectors
    modes : (m, D) unit vectors
    r0 : radius in (0, 1]

    Returns
    -------
    (n, m) bool: ``d(e_i, mode_j) <= r0`` (float64 dot ``>= cos(pi r0)``; ties count).
    """
    e = np.asarray(embeddings)
    modes = np.asarray(modes)
    out = np.zeros((len(e), len(modes)), dtype=bool)
    for start in range(0, len(e), ANCHOR_BLOCK):
        block = e[start : start + ANCHOR_BLOCK]
        for j in range(len(modes)):
            stats = neighbor_stats(block, modes[j : j + 1], radii=(r0,), progress=False)
            out[start : start + len(block), j] = stats.counts[:, 0] > 0
    return out


def neighbour_counts(anchors, samples, r0: float) -> np.ndarray:
    """Eq. 5, ``N(a, C, r0)`` for each anchor: (q,) int64 counts of samples within r0 (engine, streamed).

    Parameters
    ----------
    anchors : (q, D) unit vectors
    samples : (n, D) unit vectors, or an iterable of (n_j, D) shards
    r0 : radius in (0, 1]
    """
    return neighbor_stats(anchors, samples, radii=(r0,), progress=False).counts[:, 0]


def generate_and_embed(
    model: LatentModel,
    descriptor: Descriptor,
    z,
    *,
    batch: int = 4096,
    progress=False,
    desc: str = "embed fitting set",
    leave: bool = True,
):
    """Generate and embed latents in chunks of ``batch``.

    Parameters
    ----------
    z : (n, L) latents
    progress, desc : progress bar (None: only on a terminal) and its label
    leave : keep the finished bar on screen (False for a bar nested in another)

    Returns
    -------
    outputs : list of the generator's outputs, one entry per chunk
    embeddings : (n, D) float64
    """
    outs, embs = [], []
    with progress_bar(progress, total=len(z), desc=desc, unit="sample", leave=leave) as bar:
        for s in range(0, len(z), batch):
            x = model.generate(z[s : s + batch])
            outs.append(x)
            embs.append(np.asarray(descriptor(x), dtype=np.float64))
            bar.update(len(embs[-1]))
    return outs, np.concatenate(embs, axis=0)


@dataclass(frozen=True, repr=False)
class FitSet:
    """The latents a calibrator is fitted on and their embeddings.

    Attributes
    ----------
    latents : (N, L) latents z
    embeddings : (N, D) unit embeddings F(G(z))
    generator_calls : outputs generated (and embedded) to build it (0 when it was given or stored)
    seconds : wall time spent building it
    """

    latents: np.ndarray
    embeddings: np.ndarray
    generator_calls: int = 0
    seconds: float = 0.0

    def __repr__(self):
        return (
            f"FitSet(N={len(self.latents)}, L={self.latents.shape[1]}, D={self.embeddings.shape[1]}, "
            f"generator_calls={self.generator_calls})"
        )


class FitArgs(TypedDict, total=False):
    """Keywords that choose a calibrator's fitting set; their defaults and meaning are :func:`fit_set`'s."""

    n_fit: int
    fit_latents: np.ndarray
    fit_embeddings: np.ndarray
    store: EmbeddingStore


def fit_set(
    model: LatentModel,
    descriptor: Descriptor | None = None,
    *,
    n_fit: int = 10_000,
    fit_latents=None,
    fit_embeddings=None,
    store: EmbeddingStore | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> FitSet:
    """The fitting set of a calibrator, from arrays, from a store, or sampled from the model.

    Parameters
    ----------
    model : latent model (``latents``, ``generate``); it draws the set when nothing else gives it
    descriptor : callable outputs -> (n, D) unit vectors (needed only to embed a drawn set)
    n_fit : N, latents drawn from the model (``latents(shard_seed(seed, 0), N)``) or read from the store
    fit_latents, fit_embeddings : (N, L), (N, D) a precomputed fitting set (e.g. a cached C); both or neither
    store : an :class:`~bbcollapse.store.EmbeddingStore` of the same model: its first ``n_fit`` (z, e)
        pairs, computing (and keeping) the shards it lacks
    seed : seed of the drawn set
    progress : progress bar while embedding a drawn set (default: only on a terminal)
    """
    t0 = time.perf_counter()
    if (fit_latents is None) != (fit_embeddings is None):
        raise ValueError("give both fit_latents and fit_embeddings, or neither (then n_fit are sampled)")
    if fit_latents is not None:
        if store is not None:
            raise ValueError("give the fitting set once: fit_latents/fit_embeddings or store, not both")
        z = np.asarray(fit_latents)
        e = validate_unit(fit_embeddings, "fit_embeddings")
        if z.ndim != 2 or z.shape[0] != e.shape[0]:
            raise ValueError(
                f"fit_latents must be (n, L) with n = {e.shape[0]} rows like fit_embeddings; got {z.shape}"
            )
        return FitSet(z, e, 0, time.perf_counter() - t0)
    n_fit = check_int(n_fit, "n_fit", minimum=2)
    if store is not None:
        new = n_fit - store.n_done(n_fit)  # shards the store still lacks are generated now
        shards = [(z, e) for _, z, e in store.iter_shards(n_fit)]
        z = np.concatenate([s[0] for s in shards])
        e = validate_unit(np.concatenate([s[1] for s in shards]), "store embeddings")
        return FitSet(z, e, new, time.perf_counter() - t0)
    if descriptor is None:
        raise ValueError("descriptor is required to embed the fitting samples")
    z = np.asarray(model.latents(shard_seed(seed, 0), n_fit))
    _, e = generate_and_embed(model, descriptor, z, progress=progress)
    return FitSet(z, e, n_fit, time.perf_counter() - t0)
