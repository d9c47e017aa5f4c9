"""What every face descriptor shares: image validation, centring and a two-stage pipeline.

* :func:`as_uint8_images` is the one check of the images a face descriptor takes (shape, dtype,
  range), with an error that says what was expected;
* :class:`CentredDescriptor` turns raw descriptors into the unit vectors that every statistic of
  paper 000 reduces (Eq. 3's angular distance), optionally after subtracting a fixed reference mean,
  and refuses non-finite output;
* :func:`pipelined` overlaps the preparation of chunk k + 1 (resizing, alignment) with the network
  on chunk k in a worker thread (torch and onnxruntime release the GIL), so two cores are busy even
  with one torch thread; where preparation is cheap (ArcFace's resize), several worker threads run
  the network on successive chunks at once.
"""

from __future__ import annotations

import copy
import hashlib
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..._progress import progress_bar

__all__ = ["as_uint8_images", "CentredDescriptor", "DetectionRecord", "pipelined", "reference_mean"]


def as_uint8_images(images) -> np.ndarray:
    """Validate images: uint8 (n, H, W, 3), or float (n, 3, H, W) in [-1, 1] (the raw GAN output).

    Returns
    -------
    uint8 (n, H, W, 3), C-contiguous

    Raises
    ------
    ValueError
        On another shape, another dtype, float values outside [-1, 1] or not finite.
    """
    x = np.asarray(images)
    expected = "uint8 (n, H, W, 3) RGB, or float (n, 3, H, W) in [-1, 1] (the GAN's raw output)"
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must be {expected}; got shape {x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"images must be {expected}; got dtype {x.dtype}")
        if x.shape[1] != 3:
            raise ValueError(f"float images must be (n, 3, H, W) in [-1, 1]; got shape {x.shape}")
        if x.size and not np.isfinite(x).all():
            bad = int((~np.isfinite(x)).sum())
            raise ValueError(f"float images must be finite and in [-1, 1]; got {bad} non-finite values")
        if x.size and (x.min() < -1.0 - 1e-6 or x.max() > 1.0 + 1e-6):
            lo, hi = x.min(), x.max()
            raise ValueError(f"float images must be finite and in [-1, 1]; got values in [{lo:.3g}, {hi:.3g}]")
        x = np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
    if x.shape[-1] != 3:
        raise ValueError(f"images must be {expected}; got shape {x.shape} (channels last must be 3)")
    if x.shape[1] < 8 or x.shape[2] < 8:
        raise ValueError(f"images must be at least 8x8 pixels; got shape {x.shape}")
    return np.ascontiguousarray(x)


def reference_mean(raw, dim: int | None = None) -> np.ndarray:
    """Mean raw descriptor (D,) of a reference set (n, D), the centre of :class:`CentredDescriptor`."""
    r = np.asarray(raw, dtype=np.float64)
    if r.ndim != 2 or len(r) < 2 or (dim is not None and r.shape[1] != dim) or not np.isfinite(r).all():
        want = f"(n >= 2, {dim})" if dim else "(n >= 2, D)"
        raise ValueError(f"raw must be {want} finite descriptors; got shape {r.shape}")
    return r.mean(axis=0).astype(np.float32)


class DetectionRecord:
    """Shared by the alignment results: a boolean ``detected`` (n,) array and its summary."""

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if self.detected.size else float("nan")

    def __repr__(self):
        return f"{type(self).__name__}(n={len(self.detected)}, detected_fraction={self.detected_fraction:.3f})"


class CentredDescriptor:
    """Base of the face descriptors: raw output -> (minus a fixed centre) -> unit vectors.

    Subclasses set ``dim`` and ``normalize_output`` and implement ``raw(images) -> (n, dim)``.
    """

    dim = 0
    center = None
    normalize_output = True

    def _check_center(self, center) -> np.ndarray:
        c = np.asarray(center, dtype=np.float32)
        if c.shape != (self.dim,) or not np.isfinite(c).all():
            raise ValueError(f"center must be a finite ({self.dim},) vector; got shape {c.shape}")
        return c

    def with_center(self, center):
        """A shallow copy of this descriptor that subtracts ``center`` (or nothing, if None) before normalising."""
        other = copy.copy(self)
        other.center = None if center is None else self._check_center(center)
        return other

    def normalize(self, raw) -> np.ndarray:
        """Centre (if ``center`` is set) and scale raw descriptors (n, dim) to unit length, float32."""
        e = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(e).all():
            bad = int((~np.isfinite(e)).any(axis=1).sum())
            raise ValueError(f"{type(self).__name__}: {bad} descriptor(s) are not finite; expected finite vectors")
        if self.center is not None:
            e = e - self.center
        norm = np.linalg.norm(e, axis=1, keepdims=True)
        if (norm == 0).any():
            raise ValueError("a descriptor is zero after centring; cannot normalise")
        return (e / norm).astype(np.float32)

    def __call__(self, images) -> np.ndarray:
        """Unit descriptors (n, dim) float32 of images (raw ones when built with ``normalize=False``)."""
        raw = self.raw(images)
        if not np.isfinite(raw).all():
            raise ValueError(f"{type(self).__name__}: the network returned non-finite descriptors")
        return self.normalize(raw) if self.normalize_output else raw

    def _output_tag(self) -> str:
        return "unit" if self.normalize_output else "raw"

    def _center_word(self) -> str:
        return "none" if self.center is None else "reference mean"

    def _center_tag(self) -> str:
        return "none" if self.center is None else hashlib.sha256(self.center.tobytes()).hexdigest()[:16]

    @staticmethod
    def _show_progress(progress) -> bool:
        return sys.stderr.isatty() if progress is None else bool(progress)


def pipelined(
    n: int, step: int, prepare, embed, dim: int, *, progress: bool = False, initializer=None, workers: int = 1
) -> np.ndarray:
    """Run ``embed(prepare(s, e))`` over chunks [s, e) of n items, preparing the next chunk while embedding.

    Parameters
    ----------
    n, step : number of items and chunk size
    prepare : (start, stop) -> the network's input for items [start, stop), run in this thread
    embed : that input -> (stop - start, dim) array, run in worker threads (it must be thread-safe
        when ``workers`` > 1: torch modules and onnxruntime sessions in inference are)
    initializer : optional callable run once in each worker thread (e.g. to set flush-to-zero)
    workers : chunks embedded at once, each in its own thread (at most ``workers`` in flight)

    Each worker thread runs torch on the caller's ``torch.get_num_threads()``: torch's thread count
    is kept per thread, and a new thread's convolutions otherwise run on OpenMP's default team
    (every core) whatever the caller set.

    Returns
    -------
    (n, dim) float32
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1; got {workers!r}")
    out = np.empty((n, dim), np.float32)
    with progress_bar(progress and n > step, total=n, unit="face", desc="faces") as bar:

        def finish(job):
            s, fut = job
            e = fut.result()
            out[s : s + len(e)] = e
            bar.update(len(e))

        with ThreadPoolExecutor(max_workers=int(workers), initializer=_worker_init(initializer)) as pool:
            pending = deque()
            for s in range(0, n, step):
                x = prepare(s, min(n, s + step))
                if len(pending) >= workers:
                    finish(pending.popleft())
                pending.append((s, pool.submit(embed, x)))
            while pending:
                finish(pending.popleft())
    return out


def _worker_init(initializer):
    """Worker initializer: the caller's torch thread count (where torch is loaded), then ``initializer``."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None

    def init():
        if threads is not None:
            torch.set_num_threads(threads)
        if initializer is not None:
            initializer()

    return init
