"""Secrets out of every text bbcollapse writes: identities, manifests, reports, summaries, logs, errors.

The policy (docs/operations.md, "Secrets"):

* in a URL, the user information (``user:password@``) and the value of every query or
  fragment parameter whose *name* looks secret (:func:`is_secret_name`: ``api_key``,
  ``token``, ``secret``, ``password``, ``sig``, ``key``, ...) become ``***``;
* in a command's argv, the value of an option whose name looks secret (``--api-key=V``,
  ``--token V``, ``PASSWORD=V``) becomes ``***``, and every argument that is a URL is
  redacted as above;
* HTTP headers are never written anywhere.

The rest of the text is kept verbatim, so an identity still changes with every secret-free
part (host, path, other parameters, the parameter names) and never with a rotated key: a
key authenticates the caller, it does not name the model.  A secret placed elsewhere (a
positional argument, a path segment) cannot be recognised; pass it in the environment.
Implements no equation of paper 000.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["MASK", "is_secret_name", "redact_argv", "redact_url"]

MASK = "***"

#: Parts of a parameter name that mark its value as a secret (lower case, anywhere in the name).
SECRET_PARTS = ("token", "secret", "passw", "apikey", "api_key", "api-key", "credential", "signature", "session")
#: Whole words of a name (split on non-alphanumerics) that mark its value as a secret.
SECRET_WORDS = frozenset({"key", "sig", "pwd", "pass", "auth", "authorization", "jwt", "sas", "cookie", "bearer"})
_WORD = re.compile(r"[^a-z0-9]+")
_OPTION = re.compile(r"^(-{0,2}[A-Za-z_][\w.-]*)=(.*)$", re.S)


def is_secret_name(name: str) -> bool:
    """Whether a parameter, option or variable called ``name`` carries a secret (``api_key``, ``--token``, ``sig``)."""
    low = unquote(name).lower().lstrip("-")
    return any(part in low for part in SECRET_PARTS) or any(w in SECRET_WORDS for w in _WORD.split(low))


def _redact_params(text: str) -> str:
    """``a=1&token=x`` -> ``a=1&token=***``: the raw text, each secret value replaced."""
    parts = []
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        parts.append(f"{name}={MASK}" if eq and value and is_secret_name(name) else item)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` without its secrets: user information and secret-named query (and fragment) values masked.

    A URL without secrets is returned unchanged (character for character), so identities
    recorded before this redaction existed stay valid.

    Examples
    --------
    >>> redact_url("https://alice:pw@api.example.org/gen?model=v2&api_key=abc")
    'https://***@api.example.org/gen?model=v2&api_key=***'
    """
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an invalid port or bracket: mask everything after the scheme
        scheme, sep, _ = text.partition("://")
        return f"{scheme}{sep}{MASK}" if sep else MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    redacted = (parts.scheme, netloc, parts.path, _redact_params(parts.query), _redact_params(parts.fragment))
    if redacted == tuple(parts):
        return text
    return urlunsplit(redacted)


def _looks_like_url(arg: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", arg) is not None


def redact_argv(argv) -> list[str]:
    """A command's argv without its secrets (see the module docstring); same length as ``argv``.

    Examples
    --------
    >>> redact_argv(["gen", "--api-key=abc", "--token", "xyz", "--n", "3"])
    ['gen', '--api-key=***', '--token', '***', '--n', '3']
    """
    out, hide_next = [], False
    for arg in map(str, argv):
        if hide_next and not arg.startswith("-"):
            out.append(MASK)
            hide_next = False
            continue
        hide_next = False
        option = _OPTION.match(arg)
        if _looks_like_url(arg):
            out.append(redact_url(arg))
        elif option and is_secret_name(option.group(1)):
            out.append(f"{option.group(1)}={MASK}")
        else:
            out.append(arg)
            hide_next = arg.startswith("-") and len(arg) > 1 and is_secret_name(arg)
    return out
