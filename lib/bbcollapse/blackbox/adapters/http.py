"""HTTP endpoints as black boxes: :func:`post_array`, :class:`HttpGenerator`, :class:`HttpDescriptor`.

A batch is POSTed to a user-given URL as ``.npy`` bytes or JSON and the answer read back
in the same format, with a timeout, bounded retries with exponential backoff and a
maximum response size.  Only http:// and https:// are spoken, even after a redirect.
The identity recorded in a store is the URL and the format.  Implements no equation of
paper 000.
"""

from __future__ import annotations

import http.client
import inspect
import json
import logging
import socket
import time
import urllib.error
import urllib.request

import numpy as np

from ..._validation import check_int, check_option, check_positive
from ..protocols import BlackBoxError
from .base import BatchedDescriptor, BatchedGenerator
from .wire import load_npy, npy_bytes

__all__ = ["FORMATS", "POST_OPTIONS", "HttpDescriptor", "HttpGenerator", "post_array"]

log = logging.getLogger(__name__)

FORMATS = ("npy", "json")  # wire formats of a request and its response
_RETRY_STATUS = {429, 500, 502, 503, 504}


def _http_opener():
    """An opener that speaks HTTP(S) only (no file:// or ftp:// handlers, even after a redirect)."""
    opener = urllib.request.OpenerDirector()
    handlers = (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    )
    for handler in handlers:
        opener.add_handler(handler)
    return opener


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://; got {url!r}")
    return url


def _encode(array: np.ndarray, fmt: str):
    if fmt == "npy":
        return npy_bytes(array), "application/x-npy"
    return json.dumps({"inputs": np.asarray(array).tolist()}).encode(), "application/json"


def _decode(body: bytes, fmt: str, who: str) -> np.ndarray:
    if fmt == "npy":
        return load_npy(body, who)
    try:
        doc = json.loads(body)
        data = doc["outputs"] if isinstance(doc, dict) else doc
        arr = np.asarray(data, dtype=np.float32)
    except Exception as exc:
        raise BlackBoxError(
            f'{who} returned malformed JSON: expected {{"outputs": [[...], ...]}} ({exc}); body starts {body[:80]!r}'
        ) from None
    return arr


def _read_limited(resp, max_bytes: int, who: str) -> bytes:
    length = resp.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise BlackBoxError(
            f"{who} announced a {int(length)}-byte response, over max_bytes={max_bytes}; "
            "raise max_bytes or send smaller batches"
        )
    body = resp.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise BlackBoxError(
            f"{who} sent a response over max_bytes={max_bytes}; raise max_bytes or send smaller batches"
        )
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
    array : the batch (n, ...)
    fmt : "npy" (body is ``.npy`` bytes, ``Content-Type: application/x-npy``) or "json"
        (body ``{"inputs": [...]}``, response ``{"outputs": [...]}``)
    timeout : seconds per attempt (connect and each read)
    retries : extra attempts after a connection error, a timeout or status 429/5xx;
        other 4xx statuses fail at once
    backoff : the k-th retry waits ``backoff * 2**k`` seconds
    max_bytes : larger responses are refused (never read into memory)
    headers : extra request headers (e.g. an authorisation token)

    Returns
    -------
    The array (m, ...) in the response; its rows are checked by the adapters.

    Raises
    ------
    BlackBoxError
        after the last failed attempt, on a 4xx status other than 429, on an oversize or
        malformed response.
    """
    _check_url(url)
    check_positive(timeout, "timeout")
    retries = check_int(retries, "retries", minimum=0)
    body, ctype = _encode(array, check_option(fmt, FORMATS, "fmt"))
    who = f"POST {url}"
    last = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
            log.info("%s: retry %d after %s", who, attempt, last)
        request_headers = {"Content-Type": ctype, "Accept": ctype, **(headers or {})}
        req = urllib.request.Request(url, data=body, method="POST", headers=request_headers)
        try:
            with _http_opener().open(req, timeout=timeout) as resp:
                data = _read_limited(resp, int(max_bytes), who)
            return _decode(data, fmt, who)
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode(errors="replace").strip()
            last = f"HTTP {exc.code} {exc.reason}" + (f": {detail[-500:]}" if detail else "")
            if exc.code not in _RETRY_STATUS:
                raise BlackBoxError(f"{who} failed: {last}") from None
        except TimeoutError:
            last = f"no response within timeout={timeout:g} s"
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                last = f"no response within timeout={timeout:g} s"
            else:
                last = f"connection failed: {exc.reason}"
        except (ConnectionError, http.client.HTTPException) as exc:
            last = f"connection failed: {type(exc).__name__}: {exc}"
    raise BlackBoxError(f"{who} failed after {retries + 1} attempts; last error: {last}")


#: The options of :func:`post_array` that the HTTP adapters forward, with its defaults (read from
#: its signature, so that each default is written once).
POST_OPTIONS: dict = {
    p.name: p.default for p in inspect.signature(post_array).parameters.values() if p.kind is p.KEYWORD_ONLY
}


class _Endpoint:
    """The HTTP half shared by the generator and the descriptor: the URL and the options of :func:`post_array`."""

    label = "POST {}"

    def _bind(self, url, options: dict) -> str:
        """Check and keep the endpoint's URL and :data:`POST_OPTIONS`; returns its name (the URL)."""
        self.url = _check_url(url)
        unknown = sorted(set(options) - set(POST_OPTIONS))
        if unknown:
            raise TypeError(f"unexpected HTTP options {unknown}; the options are {list(POST_OPTIONS)} (see post_array)")
        opts = {**POST_OPTIONS, **options}
        opts["fmt"] = check_option(opts["fmt"], FORMATS, "fmt")
        opts["timeout"] = check_positive(opts["timeout"], "timeout")
        opts["retries"] = check_int(opts["retries"], "retries", minimum=0)
        self.opts = opts
        return url

    def run_batch(self, data: np.ndarray) -> np.ndarray:
        """The array the endpoint answers for one batch (see :func:`post_array`)."""
        return post_array(self.url, data, **self.opts)


class HttpGenerator(_Endpoint, BatchedGenerator):
    """A generator behind an HTTP endpoint: POST latents (n, L), receive outputs (n, ...).

    Parameters
    ----------
    url : the endpoint (http:// or https://)
    latent_dim : L
    batch_size : latents per request
    **options : ``fmt`` ("npy" or "json"), ``timeout``, ``retries``, ``backoff``,
        ``max_bytes``, ``headers``: as for :func:`post_array` (the wire format and the
        failure handling), with its defaults; checked here
    """

    identity_format = "HttpGenerator({self.url}, latent_dim={self.latent_dim}, fmt={self.opts[fmt]})"

    def __init__(self, url: str, latent_dim: int, *, batch_size: int = 512, **options):
        name = self._bind(url, options)
        super().__init__(latent_dim, batch_size=batch_size, name=name)


class HttpDescriptor(_Endpoint, BatchedDescriptor):
    """A descriptor behind an HTTP endpoint: POST outputs (n, ...), receive embeddings (n, D).

    Parameters are those of :class:`HttpGenerator` less ``latent_dim``, plus ``normalize``
    (divide each embedding by its L2 norm, else the endpoint must return unit vectors).
    """

    identity_format = "HttpDescriptor({self.url}, fmt={self.opts[fmt]}, normalize={self.normalize})"

    def __init__(self, url: str, *, batch_size: int = 512, normalize: bool = True, **options):
        name = self._bind(url, options)
        super().__init__(batch_size=batch_size, normalize=normalize, name=name)
