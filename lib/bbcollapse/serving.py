"""Serve any sampler over HTTP, in the protocol :class:`~bbcollapse.HttpGenerator` consumes.

Paper 000's motivating case is a provider who fixes a collapsed model "by adding merely
lightweight wrapping" around an executable or a cloud API.  :func:`serve` is that wrapping: it
exposes a sampler (a plain model or a calibrated one) at ``POST /generate``, so whoever diagnosed
the original endpoint with ``--sampler http://HOST:PORT/generate`` diagnoses the calibrated one the
same way.  Implements no equation of the paper.  (The module is ``serving``, not ``serve``, so that
importing it never shadows the function ``bb.serve``.)

The protocol (:mod:`bbcollapse.blackbox.adapters.http`): the client draws latents ``z ~ N(0, I_L)``
and POSTs them (n, L) as ``.npy`` bytes (``Content-Type: application/x-npy``) or as JSON
``{"inputs": [[...], ...]}``; the answer is the outputs (n, ...) in the same format
(``{"outputs": ...}`` for JSON).  ``GET /`` describes the endpoint (identity, latent dimension and,
when the server was given them, the theta and r to diagnose it with: ``theta``, ``r``, ``theta_r_source``
and ``theta_r_descriptor``, the identity of the descriptor they belong to; :class:`~bbcollapse.HttpGenerator`
reads them as ``default_theta_r``).

How the posted latents become outputs (``mode``):

* ``"generate"`` -- a model with the prior N(0, I) (the default for a latent model):
  ``x = model.generate(z)``;
* ``"transport"`` -- a calibrated sampler that decides in latent space (Voronoi, GMM, latent-ball
  rejection; the default for one): each latent row, hashed with SHA-256 into a seed, draws one
  latent of the calibrated law (``sampler.latents(seed_i, 1)``), and the batch is generated in one
  call.  Each output is a function of its own latent, and i.i.d. latents give i.i.d. draws of the
  calibrated law;
* ``"batch"`` -- any sampler ``(seed, n) -> Batch`` (the default for a plain sampler and for a
  calibrated one that decides on the outputs, where a row at a time would embed each proposal in
  a call of its own): the hash of the whole body seeds one call ``sampler(seed, n)``.  Outputs are
  then a function of the batch, reproducible for the same batch, i.i.d. across batches.

Safety: bound to 127.0.0.1 unless told otherwise, requests over ``max_request_bytes`` or
``max_rows`` are refused (413) before they are read, ``.npy`` bodies are parsed without pickles,
and every request has a socket timeout.  Errors are answered as ``{"error": "..."}`` with a 4xx
status (the client does not retry those) or 500.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from ._validation import check_int, check_option
from .blackbox import BlackBoxError, identity_of, shard_seed
from .blackbox.adapters.wire import load_npy, npy_bytes
from .calibration.base import CalibratedSampler

__all__ = ["MODES", "SamplerServer", "make_server", "outputs_for", "serve"]

log = logging.getLogger(__name__)

MODES = ("auto", "generate", "transport", "batch")
NPY, JSON = "application/x-npy", "application/json"
PATHS = ("/", "/generate")


def bytes_seed(data: bytes, seed: int) -> int:
    """A seed from SHA-256 of ``data``, mixed with the server's ``seed``."""
    return shard_seed(seed, int.from_bytes(hashlib.sha256(data).digest()[:8], "little"))


def row_seeds(z: np.ndarray, seed: int) -> list[int]:
    """One seed per latent row (n, L): :func:`bytes_seed` of its little-endian float32 bytes."""
    return [bytes_seed(row.tobytes(), seed) for row in np.ascontiguousarray(z, dtype="<f4")]


def decides_on_outputs(sampler) -> bool:
    """True for a calibrated sampler whose proposals are accepted on their embeddings (rejection in output space)."""
    return getattr(getattr(sampler, "region", None), "kind", None) == "output"


def resolve_mode(sampler, mode: str) -> str:
    """The mode ``"auto"`` stands for (see the module docstring)."""
    mode = check_option(mode, MODES, "mode")
    if mode != "auto":
        return mode
    if isinstance(sampler, CalibratedSampler):
        return "batch" if decides_on_outputs(sampler) else "transport"
    return "generate" if callable(getattr(sampler, "generate", None)) else "batch"


def outputs_for(sampler, z: np.ndarray, *, mode: str, seed: int = 0) -> np.ndarray:
    """The outputs (n, ...) the server answers for posted latents z (n, L) (see the module docstring)."""
    if mode == "generate":
        return np.asarray(sampler.generate(z))
    if mode == "transport":
        zs = np.concatenate([np.asarray(sampler.latents(s, 1)) for s in row_seeds(z, seed)])
        return np.asarray(sampler.generate(zs))
    return np.asarray(sampler(bytes_seed(np.ascontiguousarray(z, dtype="<f4").tobytes(), seed), len(z)).x)


def quiet(sampler):
    """``sampler`` without its progress bar (a calibrated one would draw a bar per request row)."""
    if not isinstance(sampler, CalibratedSampler) or sampler.progress is False:
        return sampler
    copy = dataclasses.replace(sampler, progress=False)
    if "identity" in vars(sampler):  # a saved sampler's stamped identity (see calibration.persist)
        object.__setattr__(copy, "identity", sampler.identity)
    return copy


def check_theta_r(theta_r) -> dict:
    """The description fields of ``theta_r`` (``{"theta", "r", "source", "descriptor"}``, or None: none)."""
    if theta_r is None:
        return {}
    if not isinstance(theta_r, dict) or not {"theta", "r"} <= set(theta_r):
        raise ValueError(f"theta_r must be a dict with theta, r, source and descriptor; got {theta_r!r}")
    theta, r = float(theta_r["theta"]), float(theta_r["r"])
    if not (0 < theta <= 1 and 0 < r <= 1):
        raise ValueError(f"theta and r must lie in (0, 1]; got theta={theta}, r={r}")
    descriptor = theta_r.get("descriptor")
    if descriptor is not None and not isinstance(descriptor, str):
        descriptor = identity_of(descriptor)  # a descriptor object: its identity
    return {
        "theta": theta,
        "r": r,
        "theta_r_source": str(theta_r.get("source") or "given to the server"),
        "theta_r_descriptor": descriptor,
    }


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class SamplerServer(ThreadingHTTPServer):
    """An HTTP server around one sampler (one request is sampled at a time; see :func:`make_server`)."""

    daemon_threads = True

    def __init__(
        self, address, sampler, *, mode: str, seed: int, max_request_bytes: int, max_rows: int, timeout, theta_r=None
    ):
        self.identity = identity_of(sampler)
        self.theta_r = check_theta_r(theta_r)
        self.sampler = quiet(sampler)
        self.mode = resolve_mode(sampler, mode)
        self.seed = check_int(seed, "seed")
        self.max_request_bytes = check_int(max_request_bytes, "max_request_bytes", minimum=1)
        self.max_rows = check_int(max_rows, "max_rows", minimum=1)
        self.latent_dim = getattr(sampler, "latent_dim", None)
        self.request_timeout = timeout
        self.lock = threading.Lock()  # samplers keep running counts and torch state: one batch at a time
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/generate"

    def info(self) -> dict:
        return {
            "identity": self.identity,
            "latent_dim": self.latent_dim,
            "mode": self.mode,
            "protocol": "POST /generate: latents (n, L) as .npy (application/x-npy) or JSON {'inputs': ...}; "
            "answer: outputs (n, ...) in the same format ({'outputs': ...})",
            "max_request_bytes": self.max_request_bytes,
            "max_rows": self.max_rows,
            **self.theta_r,
        }

    def parse(self, body: bytes, ctype: str) -> np.ndarray:
        """The posted latents as a float32 (n, L) array, or a :class:`RequestError`."""
        try:
            if ctype == JSON:
                doc = json.loads(body)
                z = np.asarray(doc["inputs"] if isinstance(doc, dict) else doc, dtype=np.float32)
            else:
                z = load_npy(body, "the request").astype(np.float32, copy=False)
        except (BlackBoxError, ValueError, KeyError, TypeError) as exc:
            raise RequestError(400, f"malformed body: {exc}") from None
        if z.ndim != 2 or len(z) == 0:
            raise RequestError(400, f"expected latents of shape (n, L) with n >= 1; got {z.shape}")
        if self.latent_dim and z.shape[1] != int(self.latent_dim):
            raise RequestError(400, f"expected latents of shape (n, {self.latent_dim}); got {z.shape}")
        if len(z) > self.max_rows:
            raise RequestError(413, f"{len(z)} rows is over max_rows={self.max_rows}; send smaller batches")
        if not np.isfinite(z).all():
            raise RequestError(400, "latents must be finite")
        return z

    def answer(self, z: np.ndarray) -> np.ndarray:
        with self.lock:
            x = outputs_for(self.sampler, z, mode=self.mode, seed=self.seed)
        if x.shape[0] != len(z) or x.dtype.kind not in "fiub":
            raise RequestError(500, f"the sampler returned {x.dtype} outputs of shape {x.shape} for {len(z)} latents")
        return x


class Handler(BaseHTTPRequestHandler):
    """POST /generate and GET / of a :class:`SamplerServer`."""

    server: SamplerServer
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.timeout = self.server.request_timeout  # socket timeout per request (slow clients are dropped)
        super().setup()

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status: int, message: str) -> None:
        self.close_connection = True
        self.send(status, json.dumps({"error": message}).encode(), JSON)

    def do_GET(self):
        if self.path.split("?")[0] not in PATHS:
            return self.send_error_json(404, f"no such path {self.path!r}; POST latents to /generate")
        self.send(200, json.dumps(self.server.info()).encode(), JSON)

    def do_POST(self):
        try:
            if self.path.split("?")[0] not in PATHS:
                raise RequestError(404, f"no such path {self.path!r}; POST latents to /generate")
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise RequestError(411, "a Content-Length header is required")
            if int(length) > self.server.max_request_bytes:
                limit = self.server.max_request_bytes
                raise RequestError(413, f"{length}-byte request is over max_request_bytes={limit}; send less")
            ctype = (self.headers.get("Content-Type") or NPY).split(";")[0].strip().lower()
            z = self.server.parse(self.rfile.read(int(length)), ctype)
            x = self.server.answer(z)
        except RequestError as exc:
            return self.send_error_json(exc.status, str(exc))
        except Exception as exc:  # the sampler failed: say so, keep serving
            log.exception("sampler failed")
            return self.send_error_json(500, f"the sampler failed: {type(exc).__name__}: {exc}")
        if ctype == JSON:
            self.send(200, json.dumps({"outputs": x.tolist()}).encode(), JSON)
        else:
            self.send(200, npy_bytes(x), NPY)


def make_server(
    sampler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    mode: str = "auto",
    seed: int = 0,
    max_request_bytes: int = 64 * 2**20,
    max_rows: int = 65_536,
    timeout: float = 60.0,
    theta_r: dict | None = None,
) -> SamplerServer:
    """A :class:`SamplerServer` bound to ``host:port`` (port 0: a free one), not yet serving.

    Run it with ``server.serve_forever()`` (e.g. in a thread) and stop it with ``server.shutdown()``;
    ``server.url`` is the endpoint to give :class:`~bbcollapse.HttpGenerator` or ``--sampler``.

    Parameters
    ----------
    sampler : any sampler; a latent model or a calibrated sampler for the "generate"/"transport" modes
    host : interface to bind (default loopback only); "0.0.0.0" exposes it to the network
    port : TCP port (0: any free port)
    mode : "auto", "generate", "transport" or "batch" (see the module docstring)
    seed : server seed mixed into the per-row (or per-body) seeds
    max_request_bytes, max_rows : larger requests are refused with status 413
    timeout : socket timeout of a request, in seconds
    theta_r : theta and r to advertise in ``GET /``: ``{"theta", "r", "source", "descriptor"}`` with
        ``descriptor`` the descriptor they were measured with (its identity, or the object); e.g. a
        built-in subject's defaults, or those of a calibrated model's original diagnosis
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: the sampler is reachable from other machines", host)
    return SamplerServer(
        (host, check_int(port, "port")),
        sampler,
        mode=mode,
        seed=seed,
        max_request_bytes=max_request_bytes,
        max_rows=max_rows,
        timeout=timeout,
        theta_r=theta_r,
    )


def serve(sampler, host: str = "127.0.0.1", port: int = 8000, *, ready=None, **options) -> None:
    """Serve ``sampler`` at ``http://host:port/generate`` until interrupted (Ctrl-C).

    Parameters
    ----------
    sampler, host, port, options : as for :func:`make_server`
    ready : optional callable receiving the server once it listens (e.g. to print its URL)
    """
    server = make_server(sampler, host, port, **options)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
