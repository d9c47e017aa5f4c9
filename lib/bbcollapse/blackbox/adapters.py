"""Adapters that turn a user's model into a black box (Sampler / Descriptor).

Each generator adapter is a :class:`~bbcollapse.blackbox.GaussianLatentModel`: we draw
the latents ``z ~ N(0, I_L)`` from the seed ourselves and only ask the model for
``x = G(z)``, so a run is reproducible from its seed whatever the model is, and the
calibrators (which act on latents) work on every adapter.  Each descriptor adapter maps
outputs to ``(n, D)`` vectors, L2-normalised by default (``normalize=False`` requires
unit vectors from the model instead).

Backends:

* a torch ``nn.Module`` (:class:`TorchGenerator`, :class:`TorchDescriptor`); weights come
  from a safetensors file or ``torch.load(weights_only=True)``.  Arbitrary pickles are
  never loaded unless ``unsafe_allow_pickle=True`` is passed explicitly;
* an ONNX file run by onnxruntime (:class:`OnnxGenerator`, :class:`OnnxDescriptor`);
* an external command given as an argv list, never through a shell
  (:class:`CommandGenerator`, :class:`CommandDescriptor`, :func:`run_command`): the batch
  goes to the command as ``.npy`` bytes on stdin and comes back as ``.npy`` on stdout,
  or through files named by ``{input}`` / ``{output}`` placeholders in argv;
* an HTTP endpoint at a user-given URL (:class:`HttpGenerator`, :class:`HttpDescriptor`,
  :func:`post_array`): ``.npy`` or JSON bodies, a timeout, bounded retries with
  exponential backoff and a maximum response size.

Every failure (timeout, non-zero exit, HTTP error, malformed or wrongly shaped output)
raises :class:`~bbcollapse.blackbox.BlackBoxError` with a message that names the command
or URL and quotes the tail of its stderr or response body.
"""
from __future__ import annotations

import hashlib
import http.client
import io
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

import numpy as np

from .protocols import BlackBoxError, GaussianLatentModel, file_sha256

__all__ = [
    "load_state_dict",
    "TorchGenerator",
    "TorchDescriptor",
    "OnnxGenerator",
    "OnnxDescriptor",
    "run_command",
    "CommandGenerator",
    "CommandDescriptor",
    "post_array",
    "HttpGenerator",
    "HttpDescriptor",
]

log = logging.getLogger(__name__)

STDERR_TAIL = 2000  # characters of a failing command's stderr quoted in errors


# -- shared helpers ------------------------------------------------------------------
def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _load_npy(data: bytes, who: str, tail: str = "") -> np.ndarray:
    """Parse .npy bytes (no pickles) or raise a BlackBoxError naming ``who``."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # ValueError, EOFError, OSError, UnpicklingError ...
        hint = f"{len(data)} bytes starting {data[:60]!r}"
        raise BlackBoxError(
            f"{who} returned malformed output: expected a .npy array ({exc}); got {hint}{_tail(tail)}"
        ) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
        raise BlackBoxError(f"{who} returned a .npy file that is not a numeric array{_tail(tail)}")
    return arr


def _tail(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > STDERR_TAIL:
        text = "..." + text[-STDERR_TAIL:]
    return f"\n--- stderr tail ---\n{text}"


def _check_rows(out, n: int, who: str, *, ndim: int | None = None) -> np.ndarray:
    arr = np.asarray(out)
    if arr.ndim == 0 or arr.shape[0] != n or (ndim is not None and arr.ndim != ndim):
        want = f"({n}, D)" if ndim == 2 else f"({n}, ...)"
        raise BlackBoxError(f"{who} returned an array of shape {arr.shape}; expected {want} for a batch of {n}")
    if arr.dtype.kind not in "fiub":
        raise BlackBoxError(f"{who} returned dtype {arr.dtype}; expected a numeric array")
    return arr


def _as_embeddings(e, n: int, who: str, normalize: bool) -> np.ndarray:
    e = _check_rows(e, n, who, ndim=2).astype(np.float32, copy=False)
    if not np.isfinite(e).all():
        raise BlackBoxError(f"{who} returned NaN or inf embeddings")
    if normalize:
        norms = np.linalg.norm(e.astype(np.float64), axis=1, keepdims=True)
        if (norms == 0).any():
            raise BlackBoxError(f"{who} returned zero embeddings (rows {np.where(norms[:, 0] == 0)[0][:5].tolist()})")
        e = (e / norms).astype(np.float32)
    return e


def _batched(fn, data, batch_size: int):
    """Apply ``fn`` to row batches of ``data`` and concatenate (one call when it fits)."""
    n = len(data)
    if n <= batch_size:
        return fn(data)
    return np.concatenate([fn(data[i : i + batch_size]) for i in range(0, n, batch_size)])


def _check_positive(value, name):
    if value is None or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return value


# -- torch ---------------------------------------------------------------------------
def load_state_dict(path, *, unsafe_allow_pickle: bool = False):
    """Load model weights from a file without executing code.

    Parameters
    ----------
    path : a ``.safetensors`` file (preferred) or a ``torch.save`` file of tensors.
    unsafe_allow_pickle : bool, default False
        **Warning: setting this runs arbitrary code from the file** (``torch.load`` with
        ``weights_only=False`` unpickles any Python object).  Use it only for files you
        created yourself or fully trust.  By default a file holding anything but
        tensors and plain containers is refused.

    Returns
    -------
    dict of tensors (or, with ``unsafe_allow_pickle``, whatever the file holds).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(str(path), map_location="cpu", weights_only=not unsafe_allow_pickle)
    except Exception as exc:
        if unsafe_allow_pickle:
            raise
        raise BlackBoxError(
            f"refusing to unpickle {str(path)!r}: it holds more than tensors ({str(exc).splitlines()[0][:200]}). "
            "Save the weights with safetensors (safetensors.torch.save_file(model.state_dict(), 'w.safetensors')) "
            "or torch.save(model.state_dict(), ...); pass unsafe_allow_pickle=True only for a file you trust."
        ) from None


def _prepare_module(module, weights, unsafe_allow_pickle, device):
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    if weights is not None:
        state = load_state_dict(weights, unsafe_allow_pickle=unsafe_allow_pickle)
        if isinstance(state, torch.nn.Module):
            state = state.state_dict()
        module.load_state_dict(state)
    return module.to(device).eval()


def _module_sha(module) -> str:
    """SHA-256 (16 hex digits) of a module's parameters and buffers, so that the identity
    recorded in a store changes when the weights do."""
    import torch

    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _run_module(module, device, data: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        out = module(torch.from_numpy(np.ascontiguousarray(data)).to(device))
    return out.detach().cpu().numpy()


class TorchGenerator(GaussianLatentModel):
    """A torch generator ``G: (n, L) -> (n, ...)`` with the prior ``z ~ N(0, I_L)``.

    Parameters
    ----------
    module : torch.nn.Module mapping float32 latents (n, L) to outputs (n, ...)
    latent_dim : L
    weights : path to a ``.safetensors`` or ``torch.save`` state dict, optional
    unsafe_allow_pickle : see :func:`load_state_dict` (**runs code from the file**)
    device : torch device, default "cpu"
    batch_size : latents per forward pass
    """

    def __init__(self, module, latent_dim: int, *, weights=None, unsafe_allow_pickle=False, device="cpu", batch_size=512, name=None):
        self.module = _prepare_module(module, weights, unsafe_allow_pickle, device)
        self.device = device
        self.batch_size = int(batch_size)
        self.weights_sha = _module_sha(self.module)
        super().__init__(self._forward, latent_dim, name=name or type(module).__name__)

    def _forward(self, z):
        x = _batched(lambda b: _run_module(self.module, self.device, b), z, self.batch_size)
        return _check_rows(x, len(z), f"torch generator {self.name}")

    @property
    def identity(self) -> str:
        return f"TorchGenerator({self.name}, latent_dim={self.latent_dim}, weights_sha256={self.weights_sha})"

    def __repr__(self):
        return self.identity


class TorchDescriptor:
    """A torch descriptor ``F: (n, ...) -> (n, D)``, L2-normalised unless ``normalize=False``."""

    def __init__(self, module, *, weights=None, unsafe_allow_pickle=False, device="cpu", batch_size=512, normalize=True, name=None):
        self.module = _prepare_module(module, weights, unsafe_allow_pickle, device)
        self.device = device
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)
        self.name = name or type(module).__name__
        self.weights_sha = _module_sha(self.module)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        e = _batched(lambda b: _run_module(self.module, self.device, b), x, self.batch_size)
        return _as_embeddings(e, len(x), f"torch descriptor {self.name}", self.normalize)

    @property
    def identity(self) -> str:
        return f"TorchDescriptor({self.name}, weights_sha256={self.weights_sha}, normalize={self.normalize})"

    def __repr__(self):
        return self.identity


# -- ONNX ----------------------------------------------------------------------------
class _OnnxModel:
    """An onnxruntime session created lazily (so the adapter pickles to Dask workers)."""

    def __init__(self, path, input_name=None, output_name=None, providers=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file {str(self.path)!r} does not exist")
        self.sha = file_sha256(self.path)[:16]
        self.providers = list(providers) if providers else ["CPUExecutionProvider"]
        self._session = None
        sess = self.session
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
        self.input = input_name or inputs[0].name
        self.output = output_name or outputs[0].name
        names = [i.name for i in inputs]
        if self.input not in names:
            raise ValueError(f"input_name {self.input!r} is not an input of {self.path.name}; inputs are {names}")
        if len(inputs) > 1:
            raise ValueError(f"{self.path.name} has {len(inputs)} inputs {names}; an adapter feeds exactly one")
        self.input_shape = inputs[0].shape

    @property
    def session(self):
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = min(2, os.cpu_count() or 1)
            opts.log_severity_level = 3
            try:
                self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=self.providers)
            except Exception as exc:  # onnxruntime raises its own types for a bad or truncated file
                raise ValueError(f"cannot load ONNX model {str(self.path)!r}: {str(exc).splitlines()[0][:300]}") from None
        return self._session

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_session"] = None
        return state

    def run(self, data: np.ndarray) -> np.ndarray:
        try:
            (out,) = self.session.run([self.output], {self.input: np.ascontiguousarray(data, dtype=np.float32)})
        except Exception as exc:
            raise BlackBoxError(f"ONNX model {self.path.name} failed on a batch of shape {np.shape(data)}: {exc}") from None
        return out


class OnnxGenerator(GaussianLatentModel):
    """A generator in an ONNX file: input latents (n, L) float32, first output (n, ...).

    Parameters
    ----------
    path : the ``.onnx`` file
    latent_dim : L; inferred from the model's input shape when it is static
    input_name, output_name : default the model's first input and output
    batch_size : latents per session run
    """

    def __init__(self, path, *, latent_dim: int | None = None, input_name=None, output_name=None, batch_size=512, providers=None):
        self.model = _OnnxModel(path, input_name, output_name, providers)
        shape = self.model.input_shape
        if latent_dim is None:
            if len(shape) != 2 or not isinstance(shape[1], int):
                raise ValueError(f"cannot infer latent_dim from the input shape {shape} of {self.model.path.name}; pass latent_dim=")
            latent_dim = shape[1]
        self.batch_size = int(batch_size)
        super().__init__(self._forward, latent_dim, name=self.model.path.name)

    def _forward(self, z):
        x = _batched(self.model.run, z, self.batch_size)
        return _check_rows(x, len(z), f"ONNX generator {self.name}")

    @property
    def identity(self) -> str:
        return f"OnnxGenerator({self.name}, sha256={self.model.sha}, latent_dim={self.latent_dim})"

    def __repr__(self):
        return self.identity


class OnnxDescriptor:
    """A descriptor in an ONNX file: input outputs (n, ...) float32, first output (n, D)."""

    def __init__(self, path, *, input_name=None, output_name=None, batch_size=512, normalize=True, providers=None):
        self.model = _OnnxModel(path, input_name, output_name, providers)
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        e = _batched(self.model.run, x, self.batch_size)
        return _as_embeddings(e, len(x), f"ONNX descriptor {self.model.path.name}", self.normalize)

    @property
    def identity(self) -> str:
        return f"OnnxDescriptor({self.model.path.name}, sha256={self.model.sha}, normalize={self.normalize})"

    def __repr__(self):
        return self.identity


# -- external commands ---------------------------------------------------------------
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


def _argv_identity(argv: list[str]) -> str:
    """argv plus the SHA-256 of every argument that names an existing file (e.g. the script),
    so that a store notices when the program changes."""
    files = {a: file_sha256(a)[:16] for a in argv if os.path.isfile(a)}
    return f"{argv!r}, files={files}" if files else repr(argv)


def _kill_group(proc: subprocess.Popen):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_command(argv: Sequence[str], array: np.ndarray, *, timeout: float = 300.0, io_mode: str = "stdio", env=None) -> np.ndarray:
    """Run an external command on one batch and return the array it produces.

    The command is started from ``argv`` directly (no shell, so no quoting or
    injection issues) in its own process group, which is killed on timeout.

    Parameters
    ----------
    argv : list of str, e.g. ``["python", "my_gen.py"]``
    array : the input batch (written as ``.npy``; no pickles)
    timeout : seconds before the command (and its children) are killed
    io_mode : "stdio"
        the batch goes to stdin as ``.npy`` bytes and the result is read from stdout; or
        "files": ``{input}`` and ``{output}`` in argv are replaced by paths of ``.npy``
        files in a fresh temporary directory (the command writes ``{output}``).

    Raises
    ------
    BlackBoxError
        on timeout, non-zero exit status, or output that is not a ``.npy`` array; the
        message quotes the tail of the command's stderr.
    """
    argv = _check_argv(argv)
    _check_positive(timeout, "timeout")
    if io_mode not in ("stdio", "files"):
        raise ValueError(f"io_mode must be 'stdio' or 'files'; got {io_mode!r}")
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
            stdin_bytes = _npy_bytes(array)
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
        try:
            out, err = proc.communicate(stdin_bytes, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a grandchild holds the pipes open
                out, err = b"", b""
            raise BlackBoxError(
                f"command {shown!r} timed out after {timeout:g} s and was killed{_tail(err.decode(errors='replace'))}"
            ) from None
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        err_text = err.decode(errors="replace")
        if proc.returncode != 0:
            raise BlackBoxError(f"command {shown!r} exited with status {proc.returncode}{_tail(err_text)}")
        if io_mode == "files":
            if not os.path.exists(outp):
                raise BlackBoxError(f"command {shown!r} did not write its output file {{output}}{_tail(err_text)}")
            with open(outp, "rb") as f:
                out = f.read()
        return _load_npy(out, f"command {shown!r}", err_text)


class CommandGenerator(GaussianLatentModel):
    """A generator run as an external command: latents (n, L) in, outputs (n, ...) out.

    The command reads a float32 ``.npy`` array of latents on stdin and writes a ``.npy``
    array of outputs on stdout (or uses ``{input}``/``{output}`` files, see
    :func:`run_command`).  One process runs per batch of ``batch_size`` latents.
    """

    def __init__(self, argv: Sequence[str], latent_dim: int, *, timeout: float = 300.0, io_mode="stdio", batch_size=1024, env=None):
        self.argv = _check_argv(argv)
        self.timeout = _check_positive(timeout, "timeout")
        self.io_mode = io_mode
        self.batch_size = int(batch_size)
        self.env = env
        super().__init__(self._forward, latent_dim, name=" ".join(self.argv))

    def _run(self, z):
        return _check_rows(run_command(self.argv, z, timeout=self.timeout, io_mode=self.io_mode, env=self.env), len(z), f"command {self.name!r}")

    def _forward(self, z):
        return _batched(self._run, z, self.batch_size)

    @property
    def identity(self) -> str:
        return f"CommandGenerator({_argv_identity(self.argv)}, latent_dim={self.latent_dim})"

    def __repr__(self):
        return self.identity


class CommandDescriptor:
    """A descriptor run as an external command: outputs (n, ...) in, embeddings (n, D) out."""

    def __init__(self, argv: Sequence[str], *, timeout: float = 300.0, io_mode="stdio", batch_size=1024, normalize=True, env=None):
        self.argv = _check_argv(argv)
        self.timeout = _check_positive(timeout, "timeout")
        self.io_mode = io_mode
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)
        self.env = env

    def _run(self, x):
        e = run_command(self.argv, x, timeout=self.timeout, io_mode=self.io_mode, env=self.env)
        return _as_embeddings(e, len(x), f"command {' '.join(self.argv)!r}", self.normalize)

    def __call__(self, x) -> np.ndarray:
        return _batched(self._run, np.asarray(x), self.batch_size)

    @property
    def identity(self) -> str:
        return f"CommandDescriptor({_argv_identity(self.argv)}, normalize={self.normalize})"

    def __repr__(self):
        return self.identity


# -- HTTP ----------------------------------------------------------------------------
_RETRY_STATUS = {429, 500, 502, 503, 504}


def _http_opener():
    """An opener that speaks HTTP(S) only (no file:// or ftp:// handlers, even after a redirect)."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://; got {url!r}")
    return url


def _encode(array: np.ndarray, fmt: str):
    if fmt == "npy":
        return _npy_bytes(array), "application/x-npy"
    if fmt == "json":
        return json.dumps({"inputs": np.asarray(array).tolist()}).encode(), "application/json"
    raise ValueError(f"fmt must be 'npy' or 'json'; got {fmt!r}")


def _decode(body: bytes, fmt: str, who: str) -> np.ndarray:
    if fmt == "npy":
        return _load_npy(body, who)
    try:
        doc = json.loads(body)
        data = doc["outputs"] if isinstance(doc, dict) else doc
        arr = np.asarray(data, dtype=np.float32)
    except Exception as exc:
        raise BlackBoxError(
            f"{who} returned malformed JSON: expected {{\"outputs\": [[...], ...]}} ({exc}); body starts {body[:80]!r}"
        ) from None
    return arr


def _read_limited(resp, max_bytes: int, who: str) -> bytes:
    length = resp.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise BlackBoxError(f"{who} announced a {int(length)}-byte response, over max_bytes={max_bytes}; raise max_bytes or send smaller batches")
    body = resp.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise BlackBoxError(f"{who} sent a response over max_bytes={max_bytes}; raise max_bytes or send smaller batches")
    return body


def post_array(
    url: str,
    array: np.ndarray,
    *,
    fmt: str = "npy",
    timeout: float = 60.0,
    retries: int = 3,
    backoff: float = 0.5,
    max_bytes: int = 256 * 2**20,
    headers: dict | None = None,
) -> np.ndarray:
    """POST one batch to an HTTP endpoint and return the array in its response.

    Parameters
    ----------
    url : the endpoint (http:// or https://), given by the user
    array : the batch
    fmt : "npy" (body is ``.npy`` bytes, ``Content-Type: application/x-npy``) or "json"
        (body ``{"inputs": [...]}``, response ``{"outputs": [...]}``)
    timeout : seconds per attempt (connect and each read)
    retries : extra attempts after a connection error, a timeout or status 429/5xx;
        other 4xx statuses fail at once
    backoff : the k-th retry waits ``backoff * 2**k`` seconds
    max_bytes : larger responses are refused (never read into memory)
    headers : extra request headers (e.g. an authorisation token)
    """
    _check_url(url)
    _check_positive(timeout, "timeout")
    if int(retries) < 0:
        raise ValueError(f"retries must be >= 0; got {retries!r}")
    body, ctype = _encode(array, fmt)
    who = f"POST {url}"
    last = None
    for attempt in range(int(retries) + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
            log.info("%s: retry %d after %s", who, attempt, last)
        req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype, "Accept": ctype, **(headers or {})})
        try:
            with _http_opener().open(req, timeout=timeout) as resp:
                data = _read_limited(resp, int(max_bytes), who)
            return _decode(data, fmt, who)
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode(errors="replace").strip()
            last = f"HTTP {exc.code} {exc.reason}" + (f": {detail[-500:]}" if detail else "")
            if exc.code not in _RETRY_STATUS:
                raise BlackBoxError(f"{who} failed: {last}") from None
        except (TimeoutError, socket.timeout):
            last = f"no response within timeout={timeout:g} s"
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                last = f"no response within timeout={timeout:g} s"
            else:
                last = f"connection failed: {exc.reason}"
        except (ConnectionError, http.client.HTTPException) as exc:
            last = f"connection failed: {type(exc).__name__}: {exc}"
    raise BlackBoxError(f"{who} failed after {int(retries) + 1} attempts; last error: {last}")


class HttpGenerator(GaussianLatentModel):
    """A generator behind an HTTP endpoint: POST latents (n, L), receive outputs (n, ...).

    See :func:`post_array` for the wire format and the failure handling.
    """

    def __init__(self, url: str, latent_dim: int, *, fmt="npy", timeout=60.0, retries=3, backoff=0.5, max_bytes=256 * 2**20, batch_size=512, headers=None):
        self.url = _check_url(url)
        self.opts = dict(fmt=fmt, timeout=_check_positive(timeout, "timeout"), retries=retries, backoff=backoff, max_bytes=max_bytes, headers=headers)
        _encode(np.zeros((1, 1), np.float32), fmt)  # validates fmt now
        self.batch_size = int(batch_size)
        super().__init__(self._forward, latent_dim, name=url)

    def _run(self, z):
        return _check_rows(post_array(self.url, z, **self.opts), len(z), f"POST {self.url}")

    def _forward(self, z):
        return _batched(self._run, z, self.batch_size)

    @property
    def identity(self) -> str:
        return f"HttpGenerator({self.url}, latent_dim={self.latent_dim}, fmt={self.opts['fmt']})"

    def __repr__(self):
        return self.identity


class HttpDescriptor:
    """A descriptor behind an HTTP endpoint: POST outputs (n, ...), receive embeddings (n, D)."""

    def __init__(self, url: str, *, fmt="npy", timeout=60.0, retries=3, backoff=0.5, max_bytes=256 * 2**20, batch_size=512, normalize=True, headers=None):
        self.url = _check_url(url)
        self.opts = dict(fmt=fmt, timeout=_check_positive(timeout, "timeout"), retries=retries, backoff=backoff, max_bytes=max_bytes, headers=headers)
        _encode(np.zeros((1, 1), np.float32), fmt)
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)

    def _run(self, x):
        return _as_embeddings(post_array(self.url, x, **self.opts), len(x), f"POST {self.url}", self.normalize)

    def __call__(self, x) -> np.ndarray:
        return _batched(self._run, np.asarray(x), self.batch_size)

    @property
    def identity(self) -> str:
        return f"HttpDescriptor({self.url}, fmt={self.opts['fmt']}, normalize={self.normalize})"

    def __repr__(self):
        return self.identity
