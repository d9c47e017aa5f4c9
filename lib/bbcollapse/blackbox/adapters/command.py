"""External programs as black boxes: :func:`run_command`, :class:`CommandGenerator`, :class:`CommandDescriptor`.

A program is started from an argv list, never through a shell, in its own process group
that is killed on timeout.  A batch goes to it as ``.npy`` bytes on stdin and comes back
as ``.npy`` on stdout, or through files named by ``{input}`` / ``{output}`` placeholders in
argv.  The identity recorded in a store holds argv and the SHA-256 of every argument
that names a file (the script), so that a changed program is noticed.  Implements no
equation of paper 000.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np

from ..._validation import check_option, check_positive
from ..protocols import BlackBoxError, file_sha256
from .base import BatchedDescriptor, BatchedGenerator
from .wire import load_npy, npy_bytes, stderr_tail

__all__ = ["CommandDescriptor", "CommandGenerator", "IO_MODES", "run_command"]

IO_MODES = ("stdio", "files")  # how a batch reaches the program: its pipes, or .npy files named in argv


def _check_argv(argv) -> list[str]:
    if isinstance(argv, (str, bytes)):
        raise TypeError(
            "argv must be a list of strings (it is run without a shell); split a command line with "
            f"shlex.split({argv!r})"
        )
    argv = [os.fspath(a) for a in argv]
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"argv must be a non-empty list of strings; got {argv!r}")
    return argv


def _kill_group(proc: subprocess.Popen):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _communicate(proc: subprocess.Popen, stdin_bytes, timeout: float, shown: str) -> tuple[bytes, bytes]:
    """(stdout, stderr) of ``proc``; on timeout its whole process group is killed and a BlackBoxError raised."""
    try:
        return proc.communicate(stdin_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipes open
            err = b""
        raise BlackBoxError(
            f"command {shown!r} timed out after {timeout:g} s and was killed{stderr_tail(err.decode(errors='replace'))}"
        ) from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise


def run_command(
    argv: Sequence[str], array: np.ndarray, *, timeout: float = 300.0, io_mode: str = "stdio", env=None
) -> np.ndarray:
    """Run an external command on one batch and return the array it produces.

    The command is started from ``argv`` directly (no shell, so no quoting or
    injection issues) in its own process group, which is killed on timeout.

    Parameters
    ----------
    argv : list of str, e.g. ``["python", "my_gen.py"]``
    array : the input batch (n, ...) (written as ``.npy``; no pickles)
    timeout : seconds before the command (and its children) are killed
    io_mode : "stdio"
        the batch goes to stdin as ``.npy`` bytes and the result is read from stdout; or
        "files": ``{input}`` and ``{output}`` in argv are replaced by paths of ``.npy``
        files in a fresh temporary directory (the command writes ``{output}``).
    env : the command's environment, default this process's

    Returns
    -------
    The array (m, ...) the command wrote; its rows are checked by the adapters.

    Raises
    ------
    BlackBoxError
        on timeout, non-zero exit status, or output that is not a ``.npy`` array; the
        message quotes the tail of the command's stderr.
    """
    argv = _check_argv(argv)
    check_positive(timeout, "timeout")
    check_option(io_mode, IO_MODES, "io_mode")
    shown = " ".join(argv)
    with tempfile.TemporaryDirectory(prefix="bbcollapse-cmd-") as tmp:
        if io_mode == "files":
            if not any("{output}" in a for a in argv):
                raise ValueError("io_mode='files' needs an '{output}' placeholder in argv (and usually '{input}')")
            inp, outp = os.path.join(tmp, "input.npy"), os.path.join(tmp, "output.npy")
            np.save(inp, np.ascontiguousarray(array), allow_pickle=False)
            argv = [a.replace("{input}", inp).replace("{output}", outp) for a in argv]
            stdin_bytes = None
        else:
            stdin_bytes = npy_bytes(array)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
            )
        except OSError as exc:
            raise BlackBoxError(f"cannot start command {shown!r}: {exc}") from None
        out, err = _communicate(proc, stdin_bytes, timeout, shown)
        err_text = err.decode(errors="replace")
        if proc.returncode != 0:
            raise BlackBoxError(f"command {shown!r} exited with status {proc.returncode}{stderr_tail(err_text)}")
        if io_mode == "files":
            if not os.path.exists(outp):
                raise BlackBoxError(
                    f"command {shown!r} did not write its output file {{output}}{stderr_tail(err_text)}"
                )
            with open(outp, "rb") as f:
                out = f.read()
        return load_npy(out, f"command {shown!r}", err_text)


class _Command:
    """The command half shared by the generator and the descriptor: argv, timeout, io_mode, env."""

    label = "command {!r}"

    def _bind(self, argv, timeout, io_mode, env) -> str:
        """Check and keep the command's settings; returns its name (the command line)."""
        self.argv = _check_argv(argv)
        self.timeout = check_positive(timeout, "timeout")
        self.io_mode = check_option(io_mode, IO_MODES, "io_mode")
        self.env = env
        return " ".join(self.argv)

    @property
    def argv_identity(self) -> str:
        """argv plus the SHA-256 of every argument that names an existing file (e.g. the script),
        so that a store notices when the program changes."""
        files = {a: file_sha256(a)[:16] for a in self.argv if os.path.isfile(a)}
        return f"{self.argv!r}, files={files}" if files else repr(self.argv)

    def run_batch(self, data: np.ndarray) -> np.ndarray:
        """What the command writes for one batch (see :func:`run_command`)."""
        return run_command(self.argv, data, timeout=self.timeout, io_mode=self.io_mode, env=self.env)


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
    env : the command's environment, default this process's
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
    ):
        name = self._bind(argv, timeout, io_mode, env)
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
    ):
        name = self._bind(argv, timeout, io_mode, env)
        super().__init__(batch_size=batch_size, normalize=normalize, name=name)
