"""Black boxes: the Sampler and Descriptor protocols.

A black box is anything that turns a seed into samples:

* a **Sampler** is a callable ``sampler(seed, n) -> Batch(z, x)`` returning latents
  ``z`` (n, L) and outputs ``x`` (n, ...).  Samplers that can also push arbitrary
  latents through the generator (``generate(z)``) and draw from their latent prior
  (``latents(seed, n)``) are *latent models*; the GMM calibrator needs that.
* a **Descriptor** is a callable ``descriptor(x) -> (n, D)`` unit vectors.

Plain Python callables serve as either.  Seeds are derived per shard with
``numpy.random.SeedSequence`` so that shard j of a run is reproducible on its own.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["Batch", "Sampler", "Descriptor", "LatentModel", "GaussianLatentModel", "shard_seed", "identity_descriptor"]


class Batch(NamedTuple):
    """Latents ``z`` (n, L) and outputs ``x`` (n, ...)."""

    z: np.ndarray
    x: Any


@runtime_checkable
class Sampler(Protocol):
    def __call__(self, seed: int, n: int) -> Batch: ...


@runtime_checkable
class Descriptor(Protocol):
    def __call__(self, x) -> np.ndarray: ...


@runtime_checkable
class LatentModel(Protocol):
    latent_dim: int

    def latents(self, seed: int, n: int) -> np.ndarray: ...

    def generate(self, z: np.ndarray): ...

    def __call__(self, seed: int, n: int) -> Batch: ...


def shard_seed(seed: int, *path: int) -> int:
    """A 63-bit seed for a sub-stream (e.g. ``shard_seed(seed, 1, j)`` for shard j of C)."""
    return int(np.random.SeedSequence([int(seed), *map(int, path)]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class GaussianLatentModel:
    """A generator ``G`` with the standard normal prior ``z ~ N(0, I_L)``.

    Parameters
    ----------
    generate : callable (n, L) float32 -> outputs
    latent_dim : L
    """

    def __init__(self, generate: Callable[[np.ndarray], Any], latent_dim: int, name: str = "generator"):
        self._generate = generate
        self.latent_dim = int(latent_dim)
        self.name = name

    def latents(self, seed: int, n: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def generate(self, z):
        return self._generate(np.asarray(z, dtype=np.float32))

    def __call__(self, seed: int, n: int) -> Batch:
        z = self.latents(seed, n)
        return Batch(z, self.generate(z))

    def __repr__(self):
        return f"GaussianLatentModel({self.name}, latent_dim={self.latent_dim})"


def identity_descriptor(x) -> np.ndarray:
    """The descriptor of subjects whose outputs already are unit embeddings."""
    return np.asarray(x)
