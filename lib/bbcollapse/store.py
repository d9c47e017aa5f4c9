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

Hostile directories (docs/operations.md): temporary files get unpredictable names and are
created with ``O_EXCL | O_NOFOLLOW``, shards and manifests are read with ``O_NOFOLLOW``, so a
symlink planted in the directory is never followed; a shard whose rows or shape differ from
its manifest entry is recomputed; a manifest of the wrong shape is refused in one line.  A
store whose directory cannot be written is opened read-only: it serves what it holds and
refuses, before sampling, to compute what it lacks.  Failures to lock, create or write
(another process, a full disk) raise :class:`StoreError`.

Identities say what a black box is *called*; a model changed behind an unchanged name (a
module edited outside argv, weights loaded inside a script, an HTTP model redeployed) is
caught by the *probe* (:func:`check_probe`): the embeddings of a fixed batch, recorded the
first time and compared on every reuse.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import itertools
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from ._atomic import atomic_write_bytes
from ._progress import progress_bar
from .blackbox import describe_batch, identity_of, sample_batch, shard_seed

__all__ = [
    "EmbeddingStore",
    "StoreConfigError",
    "StoreError",
    "check_probe",
    "embed_shard",
    "iter_shard_sizes",
    "probe_embeddings",
    "shard_sizes",
]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "bbcollapse-embedding-store/1"


PROBE = "probe.json"
PROBE_FORMAT = "bbcollapse-probe/1"
PROBE_SEED = shard_seed(0, 99)  # a stream no diagnosis draws from
PROBE_N = 4
#: Largest |difference| of a probe embedding component accepted as "the same model" (float32
#: round-off and nondeterministic kernels stay far below; a retrained or edited model does not).
PROBE_TOL = 1e-4
_READ_ONLY_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS)


class StoreConfigError(ValueError):
    """The store directory was created by a run with another configuration (or holds no valid manifest)."""


class StoreError(RuntimeError):
    """The store cannot be used as asked: locked by another process, read-only, or a write failed (disk full)."""


def iter_shard_sizes(n: int, shard_size: int):
    """Sizes of the shards holding the first ``n`` samples, lazily (nothing is allocated per shard)."""
    n, shard_size = int(n), int(shard_size)
    if n < 0:
        raise ValueError(f"the number of samples must be >= 0; got {n}")
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1; got {shard_size}")
    full, rest = divmod(n, shard_size)
    return itertools.chain(itertools.repeat(shard_size, full), [rest] if rest else [])


def shard_sizes(n: int, shard_size: int) -> list[int]:
    """Sizes of the shards holding the first ``n`` samples: ``shard_size`` each, the last one shorter."""
    return list(iter_shard_sizes(n, shard_size))


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


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing a symlink (OSError)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _valid_entry(key, entry) -> bool:
    """Whether a manifest's shard entry has the types this module writes (else it is recomputed)."""
    if not (isinstance(key, str) and key.isdigit() and isinstance(entry, dict) and _is_count(entry.get("n"))):
        return False
    for kind in ("z", "e"):
        part = entry.get(kind)
        if not (isinstance(part, dict) and isinstance(part.get("sha256"), str) and isinstance(part.get("shape"), list)):
            return False
    return True


def _write_error(exc: OSError, what: str, path: Path) -> StoreError:
    """A one-line StoreError for a failed write of ``what`` in the store at ``path``."""
    hint = ""
    if exc.errno in _READ_ONLY_ERRORS:
        hint = "; the store is read-only here: use a writable --store directory (or a copy of this one)"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "; free some space (finished shards are kept: rerun to resume)"
    return StoreError(f"cannot write {what} in store {str(path)!r}: {exc.strerror or exc}{hint}")


# -- the model probe ----------------------------------------------------------------------
def probe_embeddings(sampler, descriptor, n: int = PROBE_N) -> np.ndarray:
    """(n, D) embeddings of a fixed batch (seed :data:`PROBE_SEED`): what the black box answers today."""
    batch = sample_batch(sampler, PROBE_SEED, n)
    return np.asarray(describe_batch(descriptor, batch.x, n), dtype=np.float32)


def check_probe(directory, sampler, descriptor, *, tol: float = PROBE_TOL) -> float | None:
    """Refuse a store whose black box answers a fixed probe batch differently than when it was filled.

    The first call for a (sampler, descriptor) identity records the probe embeddings in
    ``directory/probe.json``; later calls compare.  Returns the largest difference found
    (None when the probe was just recorded).

    Raises
    ------
    StoreConfigError
        when some component differs by more than ``tol``: the model changed although its
        identity did not.
    """
    directory = Path(directory)
    ids = {"sampler": identity_of(sampler), "descriptor": identity_of(descriptor)}
    key = hashlib.sha256(json.dumps(ids, sort_keys=True).encode()).hexdigest()[:16]
    now = probe_embeddings(sampler, descriptor)
    path = directory / PROBE
    doc = {"format": PROBE_FORMAT, "seed": PROBE_SEED, "probes": {}}
    try:
        stored = json.loads(_read_file(path))
        if isinstance(stored, dict) and stored.get("format") == PROBE_FORMAT and isinstance(stored.get("probes"), dict):
            doc = stored
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("store %s: ignoring an unreadable %s (%s); recording the probe afresh", directory, PROBE, exc)
    old = doc["probes"].get(key)
    if isinstance(old, dict) and isinstance(old.get("embeddings"), list):
        before = np.asarray(old["embeddings"], dtype=np.float32)
        diff = float(np.max(np.abs(before - now))) if before.shape == now.shape else float("inf")
        if not diff <= tol:
            raise StoreConfigError(
                f"the black box answers the store's fixed probe batch differently than when store {str(directory)!r} "
                f"was filled (largest change {diff:.3g} > {tol:g}): the model changed although its identity "
                f"({ids['sampler']}) did not; use a fresh --store, or mark the new model with --model-version "
                "(--no-probe skips this check for a model that is not deterministic)"
            )
        return diff
    doc["probes"][key] = {**ids, "embeddings": now.tolist()}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(doc, sort_keys=True).encode())
    except OSError as exc:
        if exc.errno not in _READ_ONLY_ERRORS:
            raise _write_error(exc, PROBE, directory) from None
        log.warning("store %s is read-only: the model probe is not recorded", directory)
    return None


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
    probe : check the black box against the probe recorded in the directory (:func:`check_probe`)

    Attributes
    ----------
    read_only : True when the directory cannot be written: stored shards are served, missing
        ones raise :class:`StoreError`

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
        probe: bool = False,
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
        self._lock = None
        self.read_only = False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {str(self.path)!r}: {exc.strerror or exc}") from None
        self._lock = self._acquire_lock()
        self._remove_stale_temp_files()
        self.manifest = self._open_manifest()
        if probe:
            check_probe(self.path, sampler, descriptor)
        self.throughput = None  # samples/s of the last fill

    # -- opening -----------------------------------------------------------------------
    def _acquire_lock(self):
        """An exclusive lock on ``.lock``; a directory we cannot write is opened read-only (locked if possible)."""
        lock = self.path / ".lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno not in _READ_ONLY_ERRORS:
                raise StoreError(f"cannot open the lock of store {str(self.path)!r}: {exc.strerror or exc}") from None
            self.read_only = True
            try:
                fd = os.open(lock, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return None  # nothing to lock: we only read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"store {str(self.path)!r} is in use by another process; wait for it or use another directory"
            ) from None
        return fd

    def close(self):
        """Release the directory lock (also released when the process exits)."""
        if getattr(self, "_lock", None) is not None:
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
        if self.read_only:
            return
        for tmp in self.path.glob(".tmp-*"):
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass

    def _write(self, path: Path, data: bytes, what: str):
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise _write_error(exc, what, self.path) from None

    def _open_manifest(self) -> dict:
        mpath = self.path / MANIFEST
        if not mpath.exists() and not mpath.is_symlink():
            manifest = {"format": FORMAT, "config_hash": self.config_hash, "config": self.config, "shards": {}}
            if self.read_only:
                raise StoreError(f"store {str(self.path)!r} is read-only and holds no manifest: nothing to serve")
            self._write(mpath, json.dumps(manifest, indent=1, sort_keys=True).encode(), MANIFEST)
            return manifest
        try:
            manifest = json.loads(_read_file(mpath))
            if not isinstance(manifest, dict):
                raise ValueError(f"a JSON {type(manifest).__name__}, not an object")
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}")
            if not isinstance(manifest.get("shards"), dict):
                raise ValueError(f"'shards' is a {type(manifest.get('shards')).__name__}, not an object")
        except (ValueError, OSError) as exc:
            raise StoreConfigError(
                f"{mpath} is not a bbcollapse store manifest ({exc}); use an empty directory for --store, "
                "or delete this one to recompute"
            ) from None
        if manifest.get("config_hash") != self.config_hash:
            old = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
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
        bad = [key for key, entry in manifest["shards"].items() if not _valid_entry(key, entry)]
        if bad:
            log.warning("store %s: %d malformed shard entries in the manifest; recomputing them", self.path, len(bad))
            for key in bad:
                del manifest["shards"][key]
        return manifest

    # -- shards ------------------------------------------------------------------------
    def _files(self, j: int):
        return self.path / f"shard-{j:06d}.z.npy", self.path / f"shard-{j:06d}.e.npy"

    def shard_sizes(self, n: int) -> list[int]:
        return shard_sizes(n, self.shard_size)

    def n_done(self, n: int) -> int:
        """Number of the first ``n`` samples whose shards are recorded (checksums are checked on load)."""
        iter_shard_sizes(n, self.shard_size)  # validates n; the count below visits recorded shards only
        full, rest = divmod(int(n), self.shard_size)
        done = 0
        for key, entry in self.manifest["shards"].items():
            j = int(key)
            size = self.shard_size if j < full else rest if j == full else 0
            done += size if size and entry["n"] == size else 0
        return done

    def _write_shard(self, j: int, z, e):
        zpath, epath = self._files(j)
        zb, eb = _npy_bytes(z), _npy_bytes(e)
        self._write(zpath, zb, f"shard {j}")
        self._write(epath, eb, f"shard {j}")
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
        self._write(self.path / MANIFEST, json.dumps(self.manifest, indent=1, sort_keys=True).encode(), MANIFEST)

    def _read_verified(self, path: Path, entry: dict, n_j: int):
        """The array in ``path`` if its bytes match the manifest checksum and its shape the manifest's, else None."""
        try:
            data = _read_file(path)  # a symlink is not read
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return None
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None
        if arr.ndim < 1 or arr.shape[0] != n_j or list(arr.shape) != entry["shape"]:
            return None
        return arr

    def _load_recorded(self, j: int, n_j: int):
        entry = self.manifest["shards"].get(str(j))
        if entry is None or entry.get("n") != n_j:
            return None
        zpath, epath = self._files(j)
        z = self._read_verified(zpath, entry["z"], n_j)
        e = self._read_verified(epath, entry["e"], n_j)
        if z is None or e is None:
            log.warning(
                "store %s: shard %d is missing, truncated or corrupt (its checksum, rows or shape differ from "
                "the manifest, or it is a symlink); recomputing it",
                self.path,
                j,
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
            if self.read_only:
                raise StoreError(
                    f"store {str(self.path)!r} is read-only and lacks shard {j} ({n_j} samples); it cannot be "
                    "computed and kept here: use a writable --store directory (or a copy of this one)"
                )
            got = embed_shard(self.sampler, self.descriptor, seed=self.seed, stream=self.stream, j=j, n=n_j)
            self._write_shard(j, *got)
        return got

    def iter_shards(self, n: int):
        """Yield ``(offset, z, e)`` for the shards holding the first ``n`` samples, computing missing ones."""
        offset = 0
        for j, n_j in enumerate(iter_shard_sizes(n, self.shard_size)):
            z, e = self.shard(j, n_j)
            yield offset, z, e
            offset += n_j

    def fill(self, n: int) -> EmbeddingStore:
        """Make sure the first ``n`` samples are stored (resumes a killed run); returns self."""
        sizes = iter_shard_sizes(n, self.shard_size)
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
