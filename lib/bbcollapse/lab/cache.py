"""Files of a trained generator's cache folder, each written atomically and checked when read.

A checkpoint is a pair: tensors in a ``.safetensors`` file (never a pickle) and a JSON state that
is written after it and records the tensor file's sha256. The JSON is the commit marker: a
checkpoint counts only when its JSON exists and the tensors match its digest, so a run killed
while writing (SIGKILL, power loss) leaves the previous checkpoint usable. Every file goes through
a temporary file, ``fsync`` and ``os.replace``.

Folder layout (``<cache_dir>/<GanConfig.folder_name>/``)::

    config.json                          the full configuration and its key
    G-step0000500.safetensors / .json    a kept generator (weights and BN statistics) and its state
    resume-step0000400.safetensors / .json   everything to continue training (latest only)
    log.jsonl                            the training log, one JSON object per line
    done.json                            written last: steps, seconds, images/s, device
    train.lock                           an advisory ``flock``: one process trains a folder at a time
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from pathlib import Path

from .._atomic import atomic_write_bytes

__all__ = [
    "append_json_line",
    "atomic_write_bytes",
    "atomic_write_json",
    "checkpoint_steps",
    "checkpoint_paths",
    "exclusive_lock",
    "lock_holder",
    "read_json",
    "read_json_lines",
    "read_tensors",
    "write_checkpoint",
]

_STEP = re.compile(r"^(G|resume)-step(\d{7})\.json$")


def atomic_write_json(path: Path, obj) -> None:
    """Strict JSON (no NaN), indented, written atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n").encode())


def read_json(path: Path):
    """The JSON object in ``path``, or None when the file is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def append_json_line(path: Path, obj) -> None:
    """Append one JSON object as a line (flushed; a torn last line is dropped by ``read_json_lines``)."""
    with open(path, "a") as f:
        f.write(json.dumps(obj, allow_nan=False) + "\n")
        f.flush()


def read_json_lines(path: Path) -> list[dict]:
    """Every complete JSON line of ``path`` (an interrupted last line is skipped); [] when missing."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def checkpoint_paths(folder: Path, kind: str, step: int) -> tuple[Path, Path]:
    """(tensors, state) paths of checkpoint ``kind`` ("G" or "resume") at ``step``."""
    stem = f"{kind}-step{int(step):07d}"
    return Path(folder) / f"{stem}.safetensors", Path(folder) / f"{stem}.json"


def write_checkpoint(folder: Path, kind: str, step: int, tensors: dict, state: dict) -> None:
    """Write tensors (safetensors) then the JSON state with their sha256; both atomically, JSON last."""
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    tensor_path, state_path = checkpoint_paths(folder, kind, step)
    atomic_write_bytes(tensor_path, data)
    atomic_write_json(state_path, {**state, "step": int(step), "sha256": hashlib.sha256(data).hexdigest()})


def read_tensors(folder: Path, kind: str, step: int) -> tuple[dict, dict]:
    """(tensors, state) of a committed checkpoint; ``ValueError`` if it is missing or does not match its digest."""
    from safetensors.torch import load

    tensor_path, state_path = checkpoint_paths(folder, kind, step)
    state = read_json(state_path)
    if state is None or not tensor_path.is_file():
        raise ValueError(f"no committed {kind} checkpoint at step {step} in {folder}")
    data = tensor_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != state.get("sha256"):
        raise ValueError(f"{tensor_path} does not match the sha256 in {state_path.name} (corrupt or partly written)")
    return load(data), state


def checkpoint_steps(folder: Path, kind: str) -> list[int]:
    """Steps of checkpoints of ``kind`` whose JSON state exists (not yet verified), ascending."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    steps = []
    for p in folder.iterdir():
        m = _STEP.match(p.name)
        if m and m.group(1) == kind:
            steps.append(int(m.group(2)))
    return sorted(steps)


@contextlib.contextmanager
def exclusive_lock(path: Path, *, timeout: float | None = None, poll: float = 0.25, on_wait=None):
    """Hold an exclusive advisory lock (``flock``) on the file ``path`` for the ``with`` block.

    A free lock is taken at once. A held one is polled every ``poll`` seconds; ``on_wait(seconds)``
    is called before each wait with the seconds waited so far (about 0 the first time), so the
    caller can say what it waits for. The kernel releases the lock when its holder exits, even on SIGKILL, so a
    crashed holder never blocks anyone. The lock file is kept (removing it would let two processes
    lock two different files of one name).

    Raises
    ------
    TimeoutError
        The lock was still held after ``timeout`` seconds (None: wait as long as it takes).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        t0 = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - t0
                if timeout is not None and waited >= timeout:
                    raise TimeoutError(
                        f"{path} is still locked by another process after {waited:.1f} s (timeout {timeout:g} s)"
                    ) from None
                if on_wait is not None:
                    on_wait(waited)
                time.sleep(poll if timeout is None else max(0.0, min(poll, timeout - waited)))
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for the waiter's message
        yield
    finally:
        os.close(fd)  # releases the lock


def lock_holder(path: Path) -> int | None:
    """The pid written by the current (or last) holder of the lock file ``path``, or None."""
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
