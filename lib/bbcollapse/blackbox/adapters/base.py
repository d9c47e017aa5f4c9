"""The batching bases every adapter stands on: run a model one batch at a time and check what comes back.

A concrete adapter (torch, ONNX, command, HTTP) says only how to run one batch
(``run_batch``), how it is named in errors (``label``) and what identifies it
(``identity_format``, recorded in store manifests).  The bases own the rest, once: splitting the
input into batches of ``batch_size`` rows, checking that every batch comes back with one
numeric row per input row, and, for descriptors, finite rows L2-normalised to unit vectors
(the embeddings on which the angular distance of Eqs. 3-4 of paper 000 is defined).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..._validation import check_int
from ..protocols import BlackBoxError, GaussianLatentModel

__all__ = ["Adapter", "BatchedDescriptor", "BatchedGenerator", "as_embeddings", "check_rows", "map_batches"]


def check_rows(out, n: int, who: str, *, ndim: int | None = None) -> np.ndarray:
    """``out`` as a numeric array with ``n`` rows (and ``ndim`` dimensions, when given).

    Parameters
    ----------
    out : array-like (n, ...), what a black box returned for a batch of n inputs
    n : the batch's number of rows
    who : how the black box is named in errors
    ndim : the number of dimensions required (2 for embeddings), or None for any

    Raises
    ------
    BlackBoxError
        on another number of rows or dimensions, or a non-numeric dtype.
    """
    arr = np.asarray(out)
    if arr.ndim == 0 or arr.shape[0] != n or (ndim is not None and arr.ndim != ndim):
        want = f"({n}, D)" if ndim == 2 else f"({n}, ...)"
        raise BlackBoxError(f"{who} returned an array of shape {arr.shape}; expected {want} for a batch of {n}")
    if arr.dtype.kind not in "fiub":
        raise BlackBoxError(f"{who} returned dtype {arr.dtype}; expected a numeric array")
    return arr


def as_embeddings(e, n: int, who: str, normalize: bool) -> np.ndarray:
    """Embeddings (n, D) float32 of finite rows, divided by their L2 norms when ``normalize``.

    The norms are taken in float64 and the quotient rounded once to float32; each row is
    normalised on its own, so the result does not depend on how the rows were batched.

    Raises
    ------
    BlackBoxError
        on a wrong shape or dtype (see :func:`check_rows`), NaN or inf, or (when
        normalising) an all-zero row.
    """
    e = check_rows(e, n, who, ndim=2).astype(np.float32, copy=False)
    if not np.isfinite(e).all():
        raise BlackBoxError(f"{who} returned NaN or inf embeddings")
    if normalize:
        norms = np.linalg.norm(e.astype(np.float64), axis=1, keepdims=True)
        if (norms == 0).any():
            raise BlackBoxError(f"{who} returned zero embeddings (rows {np.where(norms[:, 0] == 0)[0][:5].tolist()})")
        e = (e / norms).astype(np.float32)
    return e


def map_batches(fn: Callable[[Any], np.ndarray], data, batch_size: int) -> np.ndarray:
    """``fn`` applied to consecutive row batches of ``data`` (n, ...), concatenated along rows.

    One call when the n rows fit in a batch (so ``fn``'s answer is returned as is).
    """
    n = len(data)
    if n <= batch_size:
        return fn(data)
    return np.concatenate([fn(data[i : i + batch_size]) for i in range(0, n, batch_size)])


class Adapter:
    """What every adapter shares: a name, batches of ``batch_size`` rows, a check of each batch, an identity.

    A concrete adapter sets ``label`` (how it is named in errors: a format string for
    ``name``, with ``kind`` the role, e.g. ``"torch {kind} {}"``), ``identity_format`` (its
    identity, formatted with ``self``: the text hashed into store manifests, so it must
    change with the model and never with the run) and defines :meth:`run_batch`.
    """

    kind = "black box"
    label = "{kind} {}"
    identity_format = "{self.__class__.__qualname__}({self.name})"  # subclasses say what identifies the model
    input_dtype: Any = None  # the dtype a model wants its inputs in; None keeps the caller's
    #: The model's version as its owner names it (``adapter.version = "v3"``; the CLI's --model-version),
    #: added to the identity: what names the model when files and URLs do not (code imported by a
    #: script, weights loaded inside it, a model redeployed behind a URL).
    version: str | None = None
    batch_size: int
    name: str

    def run_batch(self, data: np.ndarray):
        """The model's answer (b, ...) for one batch ``data`` (b, ...), b <= batch_size."""
        raise NotImplementedError(f"{type(self).__name__} must define run_batch(data)")

    @property
    def who(self) -> str:
        """The adapter as named in errors, e.g. ``torch generator Sequential`` or ``POST <url>``."""
        return self.label.format(self.name, kind=self.kind)

    def in_batches(self, data, check: Callable[[Any, int], np.ndarray]) -> np.ndarray:
        """:meth:`run_batch` over the row batches of ``data`` (n, ...), each answer passed
        through ``check(answer, rows)`` (which raises on a malformed one), concatenated."""
        return map_batches(lambda batch: check(self.run_batch(batch), len(batch)), data, self.batch_size)

    @property
    def identity(self) -> str:
        """A stable text identity (see :func:`~bbcollapse.blackbox.identity_of`), with ``version`` when set."""
        text = self.identity_format.format(self=self)
        if self.version is None:
            return text
        tag = f"version={str(self.version)!r}"
        return f"{text[:-1]}, {tag})" if text.endswith(")") else f"{text} {tag}"

    def __repr__(self):
        return self.identity


class BatchedGenerator(Adapter, GaussianLatentModel):
    """A generator ``G: (n, L) -> (n, ...)`` with the prior ``z ~ N(0, I_L)``, run in batches.

    We draw the latents from the seed ourselves and ask the model only for ``G(z)``, so a
    run is reproducible whatever the model is.  Each batch must come back with one
    numeric row per latent.

    Parameters
    ----------
    latent_dim : L
    batch_size : latents per call of :meth:`run_batch` (an int >= 1)
    name : the generator's name in errors and identities
    """

    kind = "generator"

    def __init__(self, latent_dim: int, *, batch_size: int, name: str):
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        super().__init__(self.forward, latent_dim, name=name)

    def forward(self, z: np.ndarray) -> np.ndarray:
        """Outputs (n, ...) for latents ``z`` (n, L) float32."""
        return self.in_batches(z, lambda x, n: check_rows(x, n, self.who))


class BatchedDescriptor(Adapter):
    """A descriptor ``F: (n, ...) -> (n, D)`` run in batches, L2-normalised unless ``normalize=False``.

    Each batch must come back as finite numeric rows, one per input; see :func:`as_embeddings`.

    Parameters
    ----------
    batch_size : outputs per call of :meth:`run_batch` (an int >= 1)
    normalize : divide each embedding by its L2 norm (else the model must return unit vectors)
    name : the descriptor's name in errors and identities
    """

    kind = "descriptor"

    def __init__(self, *, batch_size: int, normalize: bool, name: str):
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.normalize = bool(normalize)
        self.name = name

    def __call__(self, x) -> np.ndarray:
        """Embeddings (n, D) float32 of outputs ``x`` (n, ...)."""
        x = np.asarray(x, dtype=self.input_dtype)
        return self.in_batches(x, lambda e, n: as_embeddings(e, n, self.who, self.normalize))
