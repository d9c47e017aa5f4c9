"""Where the fused CPU kernel's compiled code is cached: numba's own places, else a private temp directory.

numba's ``@njit(cache=True)`` raises "cannot cache function ...: no locator available" at import
when neither ``__pycache__`` beside the kernel's source nor the user cache directory (under
HOME) is writable, as in a read-only install run by a user without a writable HOME.
:func:`cache_kernels` decides the ``cache=`` flag of the kernels in :mod:`.numba_reducer`
before they are decorated.  Caching changes no result, only the start-up time.  Implements no
equation of paper 000.

numba revalidates a cached kernel against its own source file only, not against the files of the
functions it inlines (``sparse_tile`` inlines ``dot64`` of :mod:`.numba_reducer`), so after an
edit or a partial update a stale kernel could run the old helper.  :func:`drop_stale` therefore
keys this directory's cache on a digest of all its sources and empties it when that changes.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import stat
import tempfile

from numba import njit

from .._atomic import atomic_write_bytes

__all__ = ["cache_kernels", "drop_stale"]

HERE = os.path.dirname(os.path.abspath(__file__))
#: Beside the cached kernels: the digest of the sources they were compiled from.
STAMP = "bbcollapse-kernel-sources.sha256"


def _cache_probe(x):  # pragma: no cover - compiled only to find a cache locator
    return x


def _private_dir(path: str) -> bool:
    """Whether ``path`` is (or was just made) a real directory of ours that nobody else may write.

    Compiled code is loaded from it, so a directory planted by another user in a shared
    temp dir must not be used.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def sources_digest(directory: str = HERE) -> str:
    """sha256 over the names and contents of the ``*.py`` files of ``directory`` (the kernels and their helpers)."""
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(directory, "*.py"))):
        h.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read() + b"\0")
    return h.hexdigest()


def drop_stale(cache_path: str, directory: str = HERE) -> int:
    """Delete this directory's cached kernels in ``cache_path`` unless they were compiled from the current sources.

    Only the index (``.nbi``) and code (``.nbc``) files of this directory's modules are removed;
    another process that loses its file to this recompiles.  Returns the number of files removed.
    """
    digest = sources_digest(directory)
    stamp = os.path.join(cache_path, STAMP)
    try:
        with open(stamp) as f:
            if f.read().strip() == digest:
                return 0
    except OSError:
        pass
    removed = 0
    for mod in sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(directory, "*.py"))):
        for path in glob.glob(os.path.join(cache_path, f"{glob.escape(mod)}.*.nb[ic]")):
            try:
                os.remove(path)
                removed += 1
            except OSError:
                pass
    try:
        atomic_write_bytes(stamp, (digest + "\n").encode())
    except OSError:
        pass
    return removed


def _probe_cached() -> bool:
    """Compile the probe with ``cache=True`` and drop stale kernels where it caches; False: no locator."""
    try:
        probe = njit(cache=True)(_cache_probe)
    except RuntimeError:
        return False
    path = getattr(getattr(probe, "_cache", None), "_cache_path", None)
    if path:
        drop_stale(path)
    return True


@functools.lru_cache(maxsize=1)
def cache_kernels() -> bool:
    """Whether kernels defined in this directory can be cached on disk, arranging a place if numba has none.

    numba finds a function's cache place from its source file's directory, so the probe
    compiled here answers for :mod:`.numba_reducer` beside it.  When numba finds no
    writable place, its cache directory becomes
    ``<tempdir>/bbcollapse-numba-<uid>`` if that is a private directory of ours (see
    :func:`_private_dir`); else False is returned and nothing is cached (every process
    compiles the kernels again).
    """
    from numba.core import config

    if _probe_cached():
        return True
    if config.CACHE_DIR:
        return False
    path = os.path.join(tempfile.gettempdir(), f"bbcollapse-numba-{os.getuid()}")
    if not _private_dir(path) or not os.access(path, os.W_OK):
        return False
    config.CACHE_DIR = path
    if _probe_cached():
        return True
    config.CACHE_DIR = ""
    return False
