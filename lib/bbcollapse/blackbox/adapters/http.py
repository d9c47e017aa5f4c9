"""HTTP endpoints as black boxes: :func:`post_array`, :class:`HttpGenerator`, :class:`HttpDescriptor`.

A batch is POSTed to a user-given URL as ``.npy`` bytes or JSON and the answer read back
in the same format, with bounded retries with exponential backoff and a maximum response
size.  The rules (docs/operations.md):

* ``timeout`` is a deadline for each whole attempt (connect, send, every byte of the
  answer), enforced by closing the connection, so a server that drips its answer cannot
  hold a request longer;
* only http:// and https:// are spoken; redirects 307 and 308 are followed (at most 5) with
  the same method and body, and ``Authorization``, cookies and every header whose name
  looks secret are dropped when the origin (scheme, host, port) changes; 301, 302 and 303,
  which turn a POST into a GET, are refused;
* ``user:password@`` in the URL is sent as HTTP basic authorisation; the URL is shown and
  recorded with its secrets masked (:mod:`..redact`), so the identity recorded in a store
  is the masked URL and the format.

Proxies from the environment (``http_proxy``, ``https_proxy``, ``no_proxy``) are used as
by urllib.  Implements no equation of paper 000.
"""

from __future__ import annotations

import base64
import http.client
import inspect
import json
import logging
import socket
import ssl
import threading
import time
import urllib.request
from urllib.parse import unquote, urljoin, urlsplit

import numpy as np

from ..._validation import check_int, check_option, check_positive
from ..protocols import BlackBoxError
from ..redact import is_secret_name, redact_url
from .base import BatchedDescriptor, BatchedGenerator
from .wire import load_npy, npy_bytes

__all__ = ["FORMATS", "POST_OPTIONS", "HttpDescriptor", "HttpGenerator", "get_info", "post_array"]

log = logging.getLogger(__name__)

FORMATS = ("npy", "json")  # wire formats of a request and its response
_RETRY_STATUS = {429, 500, 502, 503, 504}
_FOLLOW = {307, 308}  # redirects that keep the method and the body
_REFUSE = {301, 302, 303}  # redirects after which clients send a GET
MAX_REDIRECTS = 5
#: Headers never sent to another origin after a redirect (besides every header whose name looks secret).
CROSS_ORIGIN_DROP = {"authorization", "proxy-authorization", "cookie"}


class _Timeout(Exception):
    """The deadline of an attempt passed."""


class _Status(Exception):
    """An HTTP status other than 2xx or a redirect: code, reason and the start of the body."""

    def __init__(self, code: int, reason: str, detail: str):
        super().__init__(code, reason, detail)
        self.code, self.reason, self.detail = code, reason, detail


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://; got {redact_url(str(url))!r}")
    try:
        urlsplit(url).port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"url {redact_url(url)!r} is not a valid URL ({exc})") from None
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


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _basic_auth(user: str, password: str | None) -> str:
    token = f"{unquote(user)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(token).decode()


def _connection(url: str, timeout: float):
    """(connection, request target, extra headers) for ``url``, through the environment's proxy if any."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    https = parts.scheme.lower() == "https"
    context = ssl.create_default_context() if https else None
    proxy = urllib.request.getproxies().get(parts.scheme.lower())
    if not proxy or urllib.request.proxy_bypass(host):
        if https:
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context), target, {}
        return http.client.HTTPConnection(host, port, timeout=timeout), target, {}
    p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    auth = {"Proxy-Authorization": _basic_auth(p.username, p.password)} if p.username else {}
    if https:
        conn = http.client.HTTPSConnection(p.hostname, p.port or 80, timeout=timeout, context=context)
        conn.set_tunnel(host, port, headers=auth)
        return conn, target, {}
    netloc = host + (f":{port}" if port else "")
    return http.client.HTTPConnection(p.hostname, p.port or 80, timeout=timeout), f"http://{netloc}{target}", auth


def _exchange(url: str, body: bytes | None, headers: dict, deadline: float, max_bytes: int, who: str, method="POST"):
    """One POST (or GET) to ``url`` within the deadline: (status, reason, Location, body); None body for a redirect."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Timeout
    try:
        conn, target, extra = _connection(url, remaining)
    except (ValueError, http.client.InvalidURL):
        raise BlackBoxError(f"{who}: invalid URL") from None
    expired = threading.Event()

    def abort():  # unblocks a read in progress: the deadline covers the whole exchange
        expired.set()
        if conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(remaining, abort)
    timer.daemon = True
    timer.start()
    try:
        try:
            conn.request(method, target, body=body, headers={**headers, **extra})
        except (ValueError, http.client.InvalidURL):  # a control character in the URL or a header value
            raise BlackBoxError(f"{who}: invalid URL or header value (not shown)") from None
        resp = conn.getresponse()
        if resp.status in _FOLLOW | _REFUSE:
            return resp.status, resp.reason, resp.getheader("Location"), None
        if resp.status >= 300:
            detail = resp.read(2000).decode(errors="replace").strip()
            return resp.status, resp.reason, detail, None
        data = _read_limited(resp, max_bytes, who)
        if expired.is_set():  # a body without Content-Length, cut at the deadline
            raise _Timeout
        return resp.status, resp.reason, None, data
    except (BlackBoxError, _Timeout):
        raise
    except Exception:
        if expired.is_set():
            raise _Timeout from None
        raise
    finally:
        timer.cancel()
        conn.close()


def _post(url: str, body: bytes, headers: dict, deadline: float, max_bytes: int, who: str) -> bytes:
    """POST with redirects (307 and 308 only; secret headers stay on their origin); returns the 2xx body.

    Raises ``_Status`` on another status, ``_Timeout`` at the deadline.
    """
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.username is not None and not any(k.lower() == "authorization" for k in headers):
            headers = {**headers, "Authorization": _basic_auth(parts.username, parts.password)}
        status, reason, info, data = _exchange(url, body, headers, deadline, max_bytes, who)
        if data is not None:
            return data
        if status not in _FOLLOW | _REFUSE:
            raise _Status(status, reason, info or "")
        if not info:
            raise BlackBoxError(f"{who} answered HTTP {status} without a Location header")
        new = urljoin(url, info)
        if status in _REFUSE:
            raise BlackBoxError(
                f"{who} was redirected with HTTP {status} to {redact_url(new)}: a redirect that turns a POST "
                "into a GET is refused; give the final URL"
            )
        if not new.lower().startswith(("http://", "https://")):
            raise BlackBoxError(
                f"{who} was redirected to {redact_url(new)}; only http:// or https:// URLs are followed"
            )
        if _origin(new) != _origin(url):
            headers = {k: v for k, v in headers.items() if k.lower() not in CROSS_ORIGIN_DROP and not is_secret_name(k)}
        url = new
    raise BlackBoxError(f"{who} was redirected more than {MAX_REDIRECTS} times")


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
    url : the endpoint (http:// or https://), given by the user; ``user:password@`` in it is
        sent as basic authorisation
    array : the batch (n, ...)
    fmt : "npy" (body is ``.npy`` bytes, ``Content-Type: application/x-npy``) or "json"
        (body ``{"inputs": [...]}``, response ``{"outputs": [...]}``)
    timeout : seconds per attempt, for the whole of it (connect, send, read every byte)
    retries : extra attempts after a connection error, a timeout or status 429/5xx;
        other 4xx statuses fail at once
    backoff : the k-th retry waits ``backoff * 2**k`` seconds
    max_bytes : larger responses are refused (never read into memory)
    headers : extra request headers (e.g. an authorisation token); never recorded or shown,
        and secret ones are not sent to another origin after a redirect

    Returns
    -------
    The array (m, ...) in the response; its rows are checked by the adapters.

    Raises
    ------
    BlackBoxError
        after the last failed attempt, on a 4xx status other than 429, on a redirect that
        turns the POST into a GET, on an oversize or malformed response.  Messages show the
        URL with its secrets masked.
    """
    _check_url(url)
    check_positive(timeout, "timeout")
    retries = check_int(retries, "retries", minimum=0)
    max_bytes = check_int(max_bytes, "max_bytes", minimum=1)
    body, ctype = _encode(array, check_option(fmt, FORMATS, "fmt"))
    who = f"POST {redact_url(url)}"
    last = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
            log.info("%s: retry %d after %s", who, attempt, last)
        request_headers = {"Content-Type": ctype, "Accept": ctype, **(headers or {})}
        try:
            data = _post(url, body, request_headers, time.monotonic() + timeout, max_bytes, who)
            return _decode(data, fmt, who)
        except _Status as exc:
            last = f"HTTP {exc.code} {exc.reason}" + (f": {exc.detail[-500:]}" if exc.detail else "")
            if exc.code not in _RETRY_STATUS:
                raise BlackBoxError(f"{who} failed: {last}") from None
        except (_Timeout, TimeoutError):
            last = f"no response within timeout={timeout:g} s (for the whole request)"
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            last = f"connection failed: {reason}"
    raise BlackBoxError(f"{who} failed after {retries + 1} attempts; last error: {last}")


def get_info(url: str, *, timeout: float = 10.0, max_bytes: int = 2**20, headers: dict | None = None) -> dict | None:
    """The JSON object an endpoint answers to ``GET`` on its URL (``bbcollapse serve`` describes itself so), or None.

    Optional by design: any failure (no answer within ``timeout``, a status other than 2xx, a
    redirect, a body over ``max_bytes`` or not a JSON object) gives None, never an error, since
    an endpoint owes nothing but its POST protocol.  ``user:password@`` and ``headers`` are sent
    as for :func:`post_array`.
    """
    _check_url(url)
    parts = urlsplit(url)
    headers = {"Accept": "application/json", **(headers or {})}
    if parts.username is not None and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = _basic_auth(parts.username, parts.password)
    who = f"GET {redact_url(url)}"
    try:
        status, _, _, data = _exchange(url, None, headers, time.monotonic() + timeout, max_bytes, who, method="GET")
        doc = json.loads(data) if data is not None and 200 <= status < 300 else None
    except Exception as exc:  # an optional description: whatever went wrong, there is none
        log.debug("%s: no description (%s)", who, exc)
        return None
    return doc if isinstance(doc, dict) else None


def served_theta_r(info: dict | None) -> dict | None:
    """``{"theta", "r", "source", "descriptor"}`` from an endpoint's description, or None when it has no valid pair.

    ``descriptor`` is the identity of the descriptor the values were measured with (None when the
    server did not say); theta and r must be numbers in (0, 1].
    """
    if not info:
        return None
    try:
        theta, r = float(info["theta"]), float(info["r"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (0 < theta <= 1 and 0 < r <= 1):
        return None
    descriptor = info.get("theta_r_descriptor")
    source = str(info.get("theta_r_source") or "the server's description")
    return {"theta": theta, "r": r, "source": source, "descriptor": None if descriptor is None else str(descriptor)}


#: The options of :func:`post_array` that the HTTP adapters forward, with its defaults (read from
#: its signature, so that each default is written once).
POST_OPTIONS: dict = {
    p.name: p.default for p in inspect.signature(post_array).parameters.values() if p.kind is p.KEYWORD_ONLY
}


class _Endpoint:
    """The HTTP half shared by the generator and the descriptor: the URL and the options of :func:`post_array`."""

    label = "POST {}"

    def _bind(self, url, options: dict) -> str:
        """Check and keep the endpoint's URL and :data:`POST_OPTIONS`; returns its name (the URL, secrets masked)."""
        self.url = _check_url(url)
        unknown = sorted(set(options) - set(POST_OPTIONS))
        if unknown:
            raise TypeError(f"unexpected HTTP options {unknown}; the options are {list(POST_OPTIONS)} (see post_array)")
        opts = {**POST_OPTIONS, **options}
        opts["fmt"] = check_option(opts["fmt"], FORMATS, "fmt")
        opts["timeout"] = check_positive(opts["timeout"], "timeout")
        opts["retries"] = check_int(opts["retries"], "retries", minimum=0)
        self.opts = opts
        return redact_url(url)

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

    identity_format = "HttpGenerator({self.name}, latent_dim={self.latent_dim}, fmt={self.opts[fmt]})"

    def __init__(self, url: str, latent_dim: int, *, batch_size: int = 512, **options):
        name = self._bind(url, options)
        super().__init__(latent_dim, batch_size=batch_size, name=name)
        self._info = None

    def info(self) -> dict:
        """The endpoint's description: ``GET`` on the URL, fetched once; {} when it gives none (:func:`get_info`)."""
        if self._info is None:
            timeout = min(self.opts["timeout"], 10.0)
            self._info = get_info(self.url, timeout=timeout, headers=self.opts["headers"]) or {}
        return self._info

    @property
    def default_theta_r(self) -> dict | None:
        """The theta and r the server advertises, ``{"theta", "r", "source", "descriptor"}``, or None.

        ``descriptor`` is the identity of the descriptor they were measured with (None if the server
        did not say): use them only with that descriptor (:meth:`theta_r_for`).
        """
        return served_theta_r(self.info())

    def theta_r_for(self, descriptor) -> dict | None:
        """``{"theta", "r", "source"}`` the server advertises for ``descriptor`` (same identity), else None."""
        from ..protocols import identity_of

        found = self.default_theta_r
        if found is None or found["descriptor"] is None or found["descriptor"] != identity_of(descriptor):
            return None
        return {"theta": found["theta"], "r": found["r"], "source": f"served by {self.name}: {found['source']}"}


class HttpDescriptor(_Endpoint, BatchedDescriptor):
    """A descriptor behind an HTTP endpoint: POST outputs (n, ...), receive embeddings (n, D).

    Parameters are those of :class:`HttpGenerator` less ``latent_dim``, plus ``normalize``
    (divide each embedding by its L2 norm, else the endpoint must return unit vectors).
    """

    identity_format = "HttpDescriptor({self.name}, fmt={self.opts[fmt]}, normalize={self.normalize})"

    def __init__(self, url: str, *, batch_size: int = 512, normalize: bool = True, **options):
        name = self._bind(url, options)
        super().__init__(batch_size=batch_size, normalize=normalize, name=name)
