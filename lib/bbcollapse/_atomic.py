"""Atomic file writes, one implementation for the whole package.

A crash or a full disk leaves either the old file or the whole new one at ``path``, never a torn
one: the data goes to a temporary file in the same directory, is flushed to disk and renamed over
``path`` (``os.replace``), and the directory entry is flushed too.

The temporary file is created afresh (``O_EXCL | O_NOFOLLOW``, an unpredictable name), so a file
or symlink planted in the directory is never written through, and ``os.replace`` swaps it in
without following a symlink at ``path``.  On an error (a full disk, an exception in a writer) the
temporary file is removed; a process killed mid-write leaves a ``.tmp-*`` file, never a torn target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

__all__ = ["FILE_MODE", "atomic_path", "atomic_write_bytes", "fsync_dir"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _file_mode() -> int:
    """0o666 less the process umask: what ``open(path, "w")`` would have given the file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


def _temp_token() -> str:
    """The unpredictable part of a temporary file's name."""
    return secrets.token_hex(8)


def fsync_dir(path) -> None:
    """Flush a directory's entries (a rename is durable only once its directory is).

    Best effort: some file systems refuse to open or flush a directory, and the rename has been
    made either way.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fresh_temp(path: Path, suffix: str) -> tuple[int, Path]:
    """(fd, path) of a new, empty temporary file beside ``path``, created exclusively."""
    for _ in range(16):
        tmp = path.with_name(f".tmp-{_temp_token()}-{path.name}{suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        os.fchmod(fd, FILE_MODE)  # the mode a plain write would give, not the umask-free 0o600
        return fd, tmp
    raise FileExistsError(errno.EEXIST, "no fresh temporary file name", str(path.parent))


@contextlib.contextmanager
def _replacing(path: Path, suffix: str):
    """Yield (fd, temporary path) beside ``path``; on success rename it over ``path``, on an error remove it.

    The caller writes, flushes and closes ``fd`` inside the block.
    """
    fd, tmp = _fresh_temp(path, suffix)
    try:
        yield fd, tmp
        os.replace(tmp, path)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and durably; returns ``path``."""
    path = Path(path)
    with _replacing(path, "") as (fd, _):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return path


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a fresh temporary path beside ``path`` for a writer that wants a file name.

    For writers such as ``fig.savefig``, ``np.save`` (give ``suffix=".npy"``, or it appends one)
    and ``safetensors.torch.save_file``.  When the block ends without an error the file is flushed
    and renamed over ``path``; otherwise it is removed.
    """
    with _replacing(Path(path), suffix) as (fd, tmp):
        os.close(fd)
        yield str(tmp)
        fd = os.open(tmp, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
