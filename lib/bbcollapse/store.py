"""A sharded, resumable store of (latent, embedding) pairs.

Sampling and embedding are the expensive part of a diagnosis (a GAN forward pass and
a face descriptor per sample); reducing the embeddings is cheap.  The store keeps the
embeddings on disk so that a run killed at any point resumes where it stopped, and a
later diagnosis with other radii or theta reuses them.

Layout of a store directory::

    manifest.json            identity of the run and one entry per finished shard
    shard-000000.z.npy       latents of shard 0, (n_0, L)
    shard-000000.e.npy       embeddings of shard 0, (n_0, D)
    ...

Shard j holds ``descriptor(sampler(shard_seed(seed, *stream, j), n_j).x)`` with
``n_j = shard_size`` except for the last shard, so every shard is reproducible on its
own and a resumed run is bit-identical to an uninterrupted one.

Crash safety: a shard file is written to a temporary file, fsynced and renamed, and
only then recorded in the manifest (itself replaced atomically) together with the
SHA-256 of its bytes.  A shard missing from the manifest, or whose bytes do not match
its checksum (truncated, corrupted), is recomputed, never used.  A store is tied to
its sampler, descriptor, seed, stream and shard size (the *config hash*); opening it
with another config raises :class:`StoreConfigError`.  Files are ``.npy`` loaded with
``allow_pickle=False``: nothing is ever unpickled.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from ._progress import progress_bar
from .blackbox import describe_batch, identity_of, sample_batch, shard_seed

__all__ = ["EmbeddingStore", "StoreConfigError", "embed_shard", "shard_sizes"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "bbcollapse-embedding-store/1"


class StoreConfigError(ValueError):
    """The store directory was created by a run with another configuration."""


def shard_sizes(n: int, shard_size: int) -> list[int]:
    """Sizes of the shards holding the first ``n`` samples: ``shard_size`` each, the last one shorter."""
    n, shard_size = int(n), int(shard_size)
    if n < 0:
        raise ValueError(f"the number of samples must be >= 0; got {n}")
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1; got {shard_size}")
    full, rest = divmod(n, shard_size)
    return [shard_size] * full + ([rest] if rest else [])


def embed_shard(sampler, descriptor, *, seed: int, stream: tuple, j: int, n: int):
    """Latents and embeddings of shard ``j``: ``descriptor(sampler(shard_seed(seed, *stream, j), n).x)``.

    Returns
    -------
    z : (n, L) latents
    e : (n, D) embeddings
    """
    batch = sample_batch(sampler, shard_seed(seed, *stream, j), n)
    e = describe_batch(descriptor, batch.x, n)
    return np.ascontiguousarray(batch.z), np.ascontiguousarray(e)


def _npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _fsync_dir(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes):
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


class EmbeddingStore:
    """Resumable shards of (z, embedding) for one sampler, descriptor, seed and stream.

    Parameters
    ----------
    path : directory (created if needed)
    sampler : callable ``(seed, n) -> Batch(z, x)``
    descriptor : callable ``x -> (n, D)``
    seed : base seed of the run
    stream : tuple of ints, the seed sub-stream (diagnosis uses (0,) for anchors, (1,) for samples)
    shard_size : samples per shard
    config : extra JSON-able settings that must match when the store is reused
    progress : show a tqdm bar with throughput in :meth:`fill` (default: only on a terminal)

    Examples
    --------
    >>> store = EmbeddingStore("data/cache/c", sampler=ps, descriptor=identity_descriptor, seed=0)
    >>> store.fill(100_000)          # resumable: run it again after a crash
    >>> e = store.embeddings(100_000)
    """

    def __init__(
        self,
        path,
        *,
        sampler,
        descriptor,
        seed: int = 0,
        stream=(1,),
        shard_size: int = 4096,
        config: dict | None = None,
        progress: bool | None = None,
    ):
        self.path = Path(path)
        self.sampler = sampler
        self.descriptor = descriptor
        self.seed = int(seed)
        self.stream = tuple(int(s) for s in np.atleast_1d(stream))
        shard_sizes(0, shard_size)  # validates
        self.shard_size = int(shard_size)
        self.progress = progress
        self.config = {
            "sampler": identity_of(sampler),
            "descriptor": identity_of(descriptor),
            "seed": self.seed,
            "stream": list(self.stream),
            "shard_size": self.shard_size,
            "extra": json.loads(json.dumps(config or {}, sort_keys=True, default=str)),
        }
        self.config_hash = _config_hash(self.config)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = self._acquire_lock()
        self._remove_stale_temp_files()
        self.manifest = self._open_manifest()
        self.throughput = None  # samples/s of the last fill

    # -- opening -----------------------------------------------------------------------
    def _acquire_lock(self):
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"store {str(self.path)!r} is in use by another process; wait for it or use another directory"
            ) from None
        return fd

    def close(self):
        """Release the directory lock (also released when the process exits)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _remove_stale_temp_files(self):
        for tmp in self.path.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)

    def _open_manifest(self) -> dict:
        mpath = self.path / MANIFEST
        if not mpath.exists():
            manifest = {"format": FORMAT, "config_hash": self.config_hash, "config": self.config, "shards": {}}
            _atomic_write(mpath, json.dumps(manifest, indent=1, sort_keys=True).encode())
            return manifest
        try:
            manifest = json.loads(mpath.read_text())
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}")
        except (ValueError, OSError) as exc:
            raise StoreConfigError(
                f"{mpath} is not a bbcollapse store manifest ({exc}); use an empty directory for --store"
            ) from None
        if manifest.get("config_hash") != self.config_hash:
            old = manifest.get("config", {})
            diffs = [
                f"{key}: stored {old.get(key)!r}, requested {self.config[key]!r}"
                for key in self.config
                if old.get(key) != self.config[key]
            ]
            raise StoreConfigError(
                f"store {str(self.path)!r} was made with another configuration ("
                + "; ".join(diffs or ["config hash differs"])
                + "). Use a fresh store directory, or delete this one to recompute."
            )
        return manifest

    # -- shards ------------------------------------------------------------------------
    def _files(self, j: int):
        return self.path / f"shard-{j:06d}.z.npy", self.path / f"shard-{j:06d}.e.npy"

    def shard_sizes(self, n: int) -> list[int]:
        return shard_sizes(n, self.shard_size)

    def n_done(self, n: int) -> int:
        """Number of the first ``n`` samples whose shards are recorded (checksums are checked on load)."""
        return sum(
            nj for j, nj in enumerate(self.shard_sizes(n)) if self.manifest["shards"].get(str(j), {}).get("n") == nj
        )

    def _write_shard(self, j: int, z, e):
        zpath, epath = self._files(j)
        zb, eb = _npy_bytes(z), _npy_bytes(e)
        _atomic_write(zpath, zb)
        _atomic_write(epath, eb)
        self.manifest["shards"][str(j)] = {
            "n": int(len(e)),
            "seed": shard_seed(self.seed, *self.stream, j),
            "z": {
                "file": zpath.name,
                "sha256": hashlib.sha256(zb).hexdigest(),
                "shape": list(z.shape),
                "dtype": str(z.dtype),
            },
            "e": {
                "file": epath.name,
                "sha256": hashlib.sha256(eb).hexdigest(),
                "shape": list(e.shape),
                "dtype": str(e.dtype),
            },
        }
        _atomic_write(self.path / MANIFEST, json.dumps(self.manifest, indent=1, sort_keys=True).encode())

    def _read_verified(self, path: Path, entry: dict):
        """The array in ``path`` if its bytes match the manifest checksum, else None."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return None
        return np.load(io.BytesIO(data), allow_pickle=False)

    def _load_recorded(self, j: int, n_j: int):
        entry = self.manifest["shards"].get(str(j))
        if entry is None or entry.get("n") != n_j:
            return None
        zpath, epath = self._files(j)
        z = self._read_verified(zpath, entry["z"])
        e = self._read_verified(epath, entry["e"])
        if z is None or e is None:
            log.warning(
                "store %s: shard %d is missing, truncated or corrupt (checksum mismatch); recomputing it", self.path, j
            )
            del self.manifest["shards"][str(j)]
            return None
        return z, e

    def shard(self, j: int, n_j: int | None = None):
        """Latents and embeddings of shard ``j`` (size ``n_j``, default ``shard_size``), computed if needed.

        Returns
        -------
        z : (n_j, L), e : (n_j, D)
        """
        n_j = self.shard_size if n_j is None else int(n_j)
        if not 1 <= n_j <= self.shard_size:
            raise ValueError(f"shard size must be in [1, {self.shard_size}]; got {n_j}")
        got = self._load_recorded(j, n_j)
        if got is None:
            got = embed_shard(self.sampler, self.descriptor, seed=self.seed, stream=self.stream, j=j, n=n_j)
            self._write_shard(j, *got)
        return got

    def iter_shards(self, n: int):
        """Yield ``(offset, z, e)`` for the shards holding the first ``n`` samples, computing missing ones."""
        offset = 0
        for j, n_j in enumerate(self.shard_sizes(n)):
            z, e = self.shard(j, n_j)
            yield offset, z, e
            offset += n_j

    def fill(self, n: int) -> EmbeddingStore:
        """Make sure the first ``n`` samples are stored (resumes a killed run); returns self."""
        sizes = self.shard_sizes(n)
        done = self.n_done(n)
        t0, new = time.perf_counter(), 0
        with progress_bar(self.progress, total=n, initial=done, desc=f"store {self.path.name}", unit="sample") as bar:
            for j, n_j in enumerate(sizes):
                if self._load_recorded(j, n_j) is None:
                    self.shard(j, n_j)
                    new += n_j
                    bar.update(n_j)
        dt = time.perf_counter() - t0
        self.throughput = new / dt if new and dt > 0 else None
        if new:
            log.info(
                "store %s: computed %d samples in %.1f s (%.0f samples/s)", self.path, new, dt, self.throughput or 0
            )
        return self

    def _concat(self, n: int, which: int) -> np.ndarray:
        parts = [item[which] for item in self.iter_shards(n)]
        if not parts:
            raise ValueError("n must be >= 1")
        return np.concatenate(parts)

    def latents(self, n: int) -> np.ndarray:
        """The first ``n`` latents, (n, L)."""
        return self._concat(n, 1)

    def embeddings(self, n: int) -> np.ndarray:
        """The first ``n`` embeddings, (n, D)."""
        return self._concat(n, 2)

    def __repr__(self):
        n = sum(s["n"] for s in self.manifest["shards"].values())
        return (
            f"EmbeddingStore({str(self.path)!r}, shards={len(self.manifest['shards'])}, samples={n}, "
            f"shard_size={self.shard_size}, seed={self.seed}, stream={self.stream})"
        )
