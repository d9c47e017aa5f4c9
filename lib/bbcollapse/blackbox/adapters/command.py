"""External programs as black boxes: :func:`run_command`, :class:`CommandGenerator`, :class:`CommandDescriptor`.

A program is started from an argv list, never through a shell, in its own process group.
A batch goes to it as ``.npy`` bytes on stdin and comes back as ``.npy`` on stdout, or
through files named by ``{input}`` / ``{output}`` placeholders in argv.  What a run may
cost is bounded (docs/operations.md):

* ``timeout`` bounds the whole call (start, feeding stdin, reading the answer);
* stdout is read up to ``max_bytes`` (the run fails beyond), stderr is drained as it comes
  and only its tail is kept, both at once, so a flood on either pipe costs no memory;
* when the command exits, whatever it left in its process group is killed (a grandchild
  holding stdout cannot turn a finished batch into a timeout); on a timeout, an error or
  an interrupt (SIGINT, or SIGTERM where the caller turns it into an exception, as the CLI
  does) the whole group is killed; on Linux the command also dies with the thread that
  started it, even on SIGKILL;
* ``io_mode="files"`` works in a fresh ``bbcollapse-cmd-<pid>-*`` directory of the temp
  dir, removed afterwards, or on the next run after a SIGKILL.

The command inherits this process's environment, which is never recorded.  The identity
recorded in a store holds argv, with secrets masked (:mod:`..redact`), and the SHA-256 of
every argument that names a file (the script), so that a changed program is noticed.
Implements no equation of paper 000.
"""

from __future__ import annotations

import ctypes
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np

from ..._validation import check_int, check_option, check_positive
from ..protocols import BlackBoxError, file_sha256
from ..redact import redact_argv
from .base import BatchedDescriptor, BatchedGenerator
from .wire import load_npy, npy_bytes, stderr_tail

__all__ = ["CommandDescriptor", "CommandGenerator", "IO_MODES", "MAX_BYTES", "run_command"]

IO_MODES = ("stdio", "files")  # how a batch reaches the program: its pipes, or .npy files named in argv
MAX_BYTES = 256 * 2**20  # the largest answer read from a command (as for HTTP responses)
STDERR_KEEP = 1 << 16  # bytes of a command's stderr kept (its tail), however much it writes
EXIT_GRACE = 1.0  # seconds the pipes may stay open after the command exited (held outside its group)
TEMP_PREFIX = "bbcollapse-cmd-"
_READ = 1 << 20


def _check_argv(argv) -> list[str]:
    if isinstance(argv, (str, bytes)):
        raise TypeError(
            "argv must be a list of strings (it is run without a shell); split a command line with shlex.split(...)"
        )
    argv = [os.fspath(a) for a in argv]
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"argv must be a non-empty list of strings; got {redact_argv(map(str, argv))!r}")
    return argv


def _die_with_parent(parent: int):
    """A ``preexec_fn``: on Linux, the command gets SIGKILL when the thread that started it dies."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def setup():
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


def _kill_group(proc: subprocess.Popen):
    """SIGKILL the command's process group, unless the command was reaped (its pid could be reused by then)."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the command has exited, without reaping it where the OS allows (its pid, hence its group id,
    then stays reserved until we kill the group)."""
    if not hasattr(os, "waitid"):  # e.g. macOS: reap at once
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _pipes(proc: subprocess.Popen, stdin_bytes, deadline: float, max_bytes: int, shown: str):
    """Feed stdin, read stdout (at most ``max_bytes``) and the tail of stderr, all at once, until the
    command has exited and its pipes are closed (or EXIT_GRACE after it exited).

    Returns (stdout, stderr tail, timed out).
    """
    out, size, err = [], 0, b""
    view = memoryview(stdin_bytes or b"")
    exited_at = None
    with selectors.DefaultSelector() as sel:
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                os.set_blocking(pipe.fileno(), False)
                sel.register(pipe, selectors.EVENT_WRITE if pipe is proc.stdin else selectors.EVENT_READ)
        if proc.stdin is not None and not view:
            sel.unregister(proc.stdin)
            proc.stdin.close()
        while sel.get_map():
            now = time.monotonic()
            if now >= deadline:
                return b"".join(out), err, True
            if exited_at is None and _exited(proc):
                exited_at = now
                _kill_group(proc)  # what it left behind; the pipes then close
            elif exited_at is not None and now - exited_at > EXIT_GRACE:
                break  # held open by a process outside its group: the command's answer is complete
            for key, _ in sel.select(timeout=min(deadline - now, 0.1)):
                pipe = key.fileobj
                if pipe is proc.stdin:
                    try:
                        view = view[os.write(pipe.fileno(), view[:_READ]) :]
                    except BrokenPipeError:  # it stopped reading; its exit status and output tell why
                        view = view[:0]
                    if not view:
                        sel.unregister(pipe)
                        pipe.close()
                    continue
                data = os.read(pipe.fileno(), _READ)
                if not data:
                    sel.unregister(pipe)
                elif pipe is proc.stdout:
                    size += len(data)
                    if size > max_bytes:
                        raise BlackBoxError(
                            f"command {shown!r} wrote more than max_bytes={max_bytes} bytes on stdout; "
                            f"raise max_bytes or send smaller batches{stderr_tail(err.decode(errors='replace'))}"
                        )
                    out.append(data)
                else:
                    err = (err + data)[-STDERR_KEEP:]
    return b"".join(out), err, False


def _wait(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait (up to the deadline) until the command exits, kill its group, reap it; False on timeout."""
    delay = 0.001
    while not _exited(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(2 * delay, 0.05)
    _kill_group(proc)
    proc.wait()
    return True


def _remove_stale_temp_dirs(root: str):
    """Remove the ``bbcollapse-cmd-<pid>-*`` directories of processes that no longer exist (killed by SIGKILL)."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        match = re.fullmatch(re.escape(TEMP_PREFIX) + r"(\d+)-\w+", entry.name)
        if (
            not match
            or not entry.is_dir(follow_symlinks=False)
            or entry.stat(follow_symlinks=False).st_uid != os.getuid()
        ):
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass


def _start(argv, *, stdin, env, shown) -> subprocess.Popen:
    try:
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform.startswith("linux") else None,
        )
    except OSError as exc:
        raise BlackBoxError(f"cannot start command {shown!r}: {exc.strerror or exc}") from None


def _run(argv, stdin_bytes, *, timeout: float, max_bytes: int, env, shown: str) -> tuple[bytes, str]:
    """(stdout, stderr tail) of one run; raises BlackBoxError on a timeout, an oversize answer or a failure."""
    deadline = time.monotonic() + timeout
    proc = _start(argv, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL, env=env, shown=shown)
    try:
        out, err, timed_out = _pipes(proc, stdin_bytes, deadline, max_bytes, shown)
        if timed_out or not _wait(proc, deadline):
            raise BlackBoxError(
                f"command {shown!r} timed out after {timeout:g} s and was killed"
                f"{stderr_tail(err.decode(errors='replace'))}"
            )
    finally:
        _kill_group(proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
    err_text = err.decode(errors="replace")
    if proc.returncode != 0:
        raise BlackBoxError(f"command {shown!r} exited with status {proc.returncode}{stderr_tail(err_text)}")
    return out, err_text


def run_command(
    argv: Sequence[str],
    array: np.ndarray,
    *,
    timeout: float = 300.0,
    io_mode: str = "stdio",
    env=None,
    max_bytes: int = MAX_BYTES,
) -> np.ndarray:
    """Run an external command on one batch and return the array it produces.

    The command is started from ``argv`` directly (no shell, so no quoting or
    injection issues) in its own process group, which is killed when the command exits,
    times out or fails, and when the call is interrupted.

    Parameters
    ----------
    argv : list of str, e.g. ``["python", "my_gen.py"]``
    array : the input batch (n, ...) (written as ``.npy``; no pickles)
    timeout : seconds the whole call may take (start, input, output); then the command's
        process group is killed
    io_mode : "stdio"
        the batch goes to stdin as ``.npy`` bytes and the result is read from stdout; or
        "files": ``{input}`` and ``{output}`` in argv are replaced by paths of ``.npy``
        files in a fresh temporary directory (the command writes ``{output}``).
    env : the command's environment, default this process's (inherited, never recorded)
    max_bytes : the largest answer accepted (stdout, or the ``{output}`` file)

    Returns
    -------
    The array (m, ...) the command wrote; its rows are checked by the adapters.

    Raises
    ------
    BlackBoxError
        on timeout, non-zero exit status, an answer over ``max_bytes``, or output that is
        not a ``.npy`` array; the message quotes the tail of the command's stderr and
        shows argv with its secrets masked.
    """
    argv = _check_argv(argv)
    check_positive(timeout, "timeout")
    check_option(io_mode, IO_MODES, "io_mode")
    max_bytes = check_int(max_bytes, "max_bytes", minimum=1)
    shown = " ".join(redact_argv(argv))
    if io_mode == "stdio":
        out, err = _run(argv, npy_bytes(array), timeout=timeout, max_bytes=max_bytes, env=env, shown=shown)
        return load_npy(out, f"command {shown!r}", err)
    if not any("{output}" in a for a in argv):
        raise ValueError("io_mode='files' needs an '{output}' placeholder in argv (and usually '{input}')")
    _remove_stale_temp_dirs(tempfile.gettempdir())
    tmp = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
    try:
        inp, outp = os.path.join(tmp, "input.npy"), os.path.join(tmp, "output.npy")
        np.save(inp, np.ascontiguousarray(array), allow_pickle=False)
        argv = [a.replace("{input}", inp).replace("{output}", outp) for a in argv]
        _, err = _run(argv, None, timeout=timeout, max_bytes=max_bytes, env=env, shown=shown)
        try:
            fd = os.open(outp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            raise BlackBoxError(
                f"command {shown!r} did not write its output file {{output}}{stderr_tail(err)}"
            ) from None
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise BlackBoxError(
                    f"command {shown!r} wrote a {size}-byte output file, over max_bytes={max_bytes}; "
                    "raise max_bytes or send smaller batches"
                )
            data = f.read()
        return load_npy(data, f"command {shown!r}", err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Command:
    """The command half shared by the generator and the descriptor: argv, timeout, io_mode, env, max_bytes."""

    label = "command {!r}"

    def _bind(self, argv, timeout, io_mode, env, max_bytes) -> str:
        """Check and keep the command's settings; returns its name (the command line, secrets masked)."""
        self.argv = _check_argv(argv)
        self.timeout = check_positive(timeout, "timeout")
        self.io_mode = check_option(io_mode, IO_MODES, "io_mode")
        self.max_bytes = check_int(max_bytes, "max_bytes", minimum=1)
        self.env = env
        return " ".join(redact_argv(self.argv))

    @property
    def argv_identity(self) -> str:
        """argv (secrets masked) plus the SHA-256 of every argument that names an existing file (e.g. the
        script), so that a store notices when the program changes."""
        shown = redact_argv(self.argv)
        files = {s: file_sha256(a)[:16] for a, s in zip(self.argv, shown) if a == s and os.path.isfile(a)}
        return f"{shown!r}, files={files}" if files else repr(shown)

    def run_batch(self, data: np.ndarray) -> np.ndarray:
        """What the command writes for one batch (see :func:`run_command`)."""
        return run_command(
            self.argv, data, timeout=self.timeout, io_mode=self.io_mode, env=self.env, max_bytes=self.max_bytes
        )


class CommandGenerator(_Command, BatchedGenerator):
    """A generator run as an external command: latents (n, L) in, outputs (n, ...) out.

    The command reads a float32 ``.npy`` array of latents on stdin and writes a ``.npy``
    array of outputs on stdout (or uses ``{input}``/``{output}`` files, see
    :func:`run_command`).  One process runs per batch of ``batch_size`` latents.

    Parameters
    ----------
    argv : the command, a list of str (never a shell line)
    latent_dim : L
    timeout : seconds before one batch's process (and its children) is killed
    io_mode : "stdio" or "files", see :func:`run_command`
    batch_size : latents per process
    env : the command's environment, default this process's (inherited; never recorded)
    max_bytes : the largest answer accepted from one process (stdout or the ``{output}`` file)
    """

    identity_format = "CommandGenerator({self.argv_identity}, latent_dim={self.latent_dim})"

    def __init__(
        self,
        argv: Sequence[str],
        latent_dim: int,
        *,
        timeout: float = 300.0,
        io_mode="stdio",
        batch_size=1024,
        env=None,
        max_bytes: int = MAX_BYTES,
    ):
        name = self._bind(argv, timeout, io_mode, env, max_bytes)
        super().__init__(latent_dim, batch_size=batch_size, name=name)


class CommandDescriptor(_Command, BatchedDescriptor):
    """A descriptor run as an external command: outputs (n, ...) in, embeddings (n, D) out.

    Parameters are those of :class:`CommandGenerator` less ``latent_dim``, plus
    ``normalize`` (divide each embedding by its L2 norm, else the command must return unit
    vectors).
    """

    identity_format = "CommandDescriptor({self.argv_identity}, normalize={self.normalize})"

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 300.0,
        io_mode="stdio",
        batch_size=1024,
        normalize=True,
        env=None,
        max_bytes: int = MAX_BYTES,
    ):
        name = self._bind(argv, timeout, io_mode, env, max_bytes)
        super().__init__(batch_size=batch_size, normalize=normalize, name=name)
