"""Black boxes: the Sampler and Descriptor protocols.

A black box is anything that turns a seed into samples:

* a **Sampler** is a callable ``sampler(seed, n) -> Batch(z, x)`` returning latents
  ``z`` (n, L) and outputs ``x`` (n, ...).  Samplers that can also push arbitrary
  latents through the generator (``generate(z)``) and draw from their latent prior
  (``latents(seed, n)``) are *latent models*; the GMM calibrator needs that.
* a **Descriptor** is a callable ``descriptor(x) -> (n, D)`` unit vectors.

Plain Python callables serve as either.  Seeds are derived per shard with
``numpy.random.SeedSequence`` so that shard j of a run is reproducible on its own.
Adapters for torch modules, ONNX files, external commands and HTTP endpoints are in
:mod:`bbcollapse.blackbox.adapters`.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Batch",
    "Sampler",
    "Descriptor",
    "LatentModel",
    "GaussianLatentModel",
    "shard_seed",
    "identity_descriptor",
    "BlackBoxError",
    "identity_of",
    "sample_batch",
    "describe_batch",
    "file_sha256",
]


class BlackBoxError(RuntimeError):
    """A black box (a command, an HTTP endpoint, a model file) failed or returned malformed output."""


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


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def identity_of(obj) -> str:
    """A stable text identity of a sampler or descriptor (for manifests and reports).

    Uses ``obj.identity`` when the object defines it (the adapters do: file hashes,
    argv, URL), else its repr with memory addresses removed, else its qualified name.
    Two runs of the same black box give the same string.
    """
    ident = getattr(obj, "identity", None)
    if isinstance(ident, str):
        return ident
    if callable(ident) and not isinstance(obj, type):
        try:
            value = ident()
        except TypeError:
            value = None
        if isinstance(value, str):
            return value
    if inspect.isroutine(obj) or isinstance(obj, type):
        text = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    elif type(obj).__repr__ is not object.__repr__:
        text = repr(obj)
    else:
        text = f"{type(obj).__module__}.{type(obj).__qualname__}"
    return _ADDRESS.sub("", text)


def sample_batch(sampler, seed: int, n: int) -> Batch:
    """Call a sampler and check its answer: a Batch (or (z, x) pair) with n rows each.

    Raises
    ------
    BlackBoxError
        when the sampler returns something else (naming what it returned).
    """
    out = sampler(int(seed), int(n))
    if not isinstance(out, tuple) or len(out) != 2:
        raise BlackBoxError(
            f"sampler {identity_of(sampler)} must return Batch(z, x) (or a (z, x) pair) for (seed, n); "
            f"got {type(out).__name__}"
        )
    z, x = out
    z = np.asarray(z)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or z.shape[0] != n:
        raise BlackBoxError(f"sampler {identity_of(sampler)} returned latents of shape {z.shape}; expected ({n}, L)")
    if len(x) != n:
        raise BlackBoxError(f"sampler {identity_of(sampler)} returned {len(x)} outputs for n={n}")
    return Batch(z, x)


def describe_batch(descriptor, x, n: int) -> np.ndarray:
    """Call a descriptor and check its answer: an (n, D) float array of finite rows."""
    e = np.asarray(descriptor(x))
    if e.ndim != 2 or e.shape[0] != n:
        raise BlackBoxError(
            f"descriptor {identity_of(descriptor)} returned an array of shape {e.shape}; expected ({n}, D)"
        )
    if not np.issubdtype(e.dtype, np.floating):
        e = e.astype(np.float32)
    return e


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (identity of model files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
