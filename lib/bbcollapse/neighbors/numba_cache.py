"""Where the fused CPU kernel's compiled code is cached: numba's own places, else a private temp directory.

numba's ``@njit(cache=True)`` raises "cannot cache function ...: no locator available" at import
when neither ``__pycache__`` beside the kernel's source nor the user cache directory (under
HOME) is writable, as in a read-only install run by a user without a writable HOME.
:func:`cache_kernels` decides the ``cache=`` flag of the kernels in :mod:`.numba_reducer`
before they are decorated.  Caching changes no result, only the start-up time.  Implements no
equation of paper 000.
"""

from __future__ import annotations

import os
import stat
import tempfile

from numba import njit

__all__ = ["cache_kernels"]


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

    try:
        njit(cache=True)(_cache_probe)
        return True
    except RuntimeError:
        pass
    if config.CACHE_DIR:
        return False
    path = os.path.join(tempfile.gettempdir(), f"bbcollapse-numba-{os.getuid()}")
    if not _private_dir(path) or not os.access(path, os.W_OK):
        return False
    config.CACHE_DIR = path
    try:
        njit(cache=True)(_cache_probe)
        return True
    except RuntimeError:
        config.CACHE_DIR = ""
        return False
