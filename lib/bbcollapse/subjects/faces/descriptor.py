"""The face subject's identity descriptor ``F_id`` (paper 000, Sec. 3): dlib's face descriptor.

:class:`DlibFaceDescriptor` is the paper's ``F_id`` substitute: dlib's 5-point landmark
alignment to a 150x150 chip (``dlib.get_face_chip``, padding 0.25, as in
``face_recognition_model_v1``), then dlib's 128-D face-recognition ResNet, either dlib's own
(``backend="dlib"``) or the torch port of :mod:`.dlib_resnet` (``backend="torch"``, batched on
CPU or CUDA, verified against dlib).  The 64x64 image is first upscaled (bilinear) to
``upscale`` pixels because dlib's HOG face detector does not fire below ~80 px faces; where the
detector finds no face, the GAN's faces being centred, a fixed box (:data:`FIXED_BOX`, the mean
detected box) seeds the landmark predictor.  Descriptors are optionally centred by a reference
mean (``center``, :func:`face_reference_mean`) and returned as unit vectors, the points on the
sphere whose normalised angular distances (Eq. 3) every statistic of the paper reduces.

:func:`face_subject` and :func:`face_descriptor` assemble the subject the book and the CLI use.
"""

from __future__ import annotations

import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..._progress import progress_bar
from ..._validation import check_option
from .dlib_resnet import load_dlib_resnet, model_path
from .generator import FaceDCGAN, torch_device

log = logging.getLogger(__name__)

__all__ = [
    "DlibFaceDescriptor",
    "Alignment",
    "as_uint8_images",
    "face_subject",
    "face_descriptor",
    "reference_mean",
    "face_reference_mean",
    "REFERENCE_SEED",
    "REFERENCE_N",
    "FIXED_BOX",
]

#: Fixed face box (left, top, right, bottom) as fractions of the image side: the
#: mean of dlib's HOG detections on 200 samples of the DCGAN (seed 0, 150 px), rounded
#: (measured: 0.124, 0.242, 0.869, 0.988; notebook 03 re-measures it on its reference set).
FIXED_BOX = (0.12, 0.24, 0.87, 0.98)


@dataclass(repr=False)
class Alignment:
    """Aligned chips and what produced them.

    Attributes
    ----------
    chips : (n, 150, 150, 3) uint8     dlib face chips
    landmarks : (n, 5, 2) float32      5 landmarks (x, y) in input-image pixels
    boxes : (n, 4) float32             face box (left, top, right, bottom) in input pixels
    detected : (n,) bool               True where the HOG detector found the face
    """

    chips: np.ndarray
    landmarks: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if self.detected.size else float("nan")

    def __repr__(self):
        return f"Alignment(n={len(self.chips)}, detected_fraction={self.detected_fraction:.3f})"


def as_uint8_images(images) -> np.ndarray:
    """Validate images: uint8 (n, H, W, 3), or float (n, 3, H, W) in [-1, 1] (the raw GAN output)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must be (n, H, W, 3) uint8 or (n, 3, H, W) float in [-1, 1]; got shape {x.shape}")
    if x.dtype != np.uint8:
        if x.shape[1] != 3:
            raise ValueError(f"float images must be (n, 3, H, W) in [-1, 1]; got shape {x.shape}")
        x = np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
    if x.shape[-1] != 3:
        raise ValueError(f"images must be RGB with 3 channels last; got shape {x.shape}")
    return np.ascontiguousarray(x)


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upscaling of uint8 (n, H, W, 3) images to (n, size, size, 3)."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    # torch's uint8 bilinear kernel (channels-last input) is ~20x faster than the float path
    # and agrees with it to within one grey level
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t.permute(0, 2, 3, 1).contiguous().numpy()


class DlibFaceDescriptor:
    """dlib face descriptor: landmark alignment + 128-D ResNet -> unit vectors (n, 128).

    Parameters
    ----------
    backend : "torch" (the port, batched on ``device``) or "dlib" (dlib's own network).
    device : torch device for the torch backend (default: cuda when available).
    detector : "hog" (dlib's HOG detector, the fixed box where it finds nothing) or
        "fixed" (always the fixed box; faster, see the notebook for the effect).
    upscale : side in pixels the image is upscaled to before detection and alignment.
    hog_upsample : number of HOG pyramid upsamplings (0 suffices at 150 px).
    center : optional (128,) reference mean subtracted from the raw descriptors
        before normalisation (see :func:`reference_mean`).
    batch_size : chips per network forward pass.
    normalize : if False, ``__call__`` returns the raw 128-D descriptors (no centring,
        no normalisation), e.g. to cache them and centre later.
    progress : show a progress bar (default: only when stderr is a terminal).
    """

    dim = 128

    def __init__(
        self,
        backend: str = "torch",
        device=None,
        detector: str = "hog",
        upscale: int = 150,
        hog_upsample: int = 0,
        center=None,
        batch_size: int = 64,
        normalize: bool = True,
        progress: bool | None = None,
    ):
        import dlib

        check_option(backend, ("torch", "dlib"), "backend")
        check_option(detector, ("hog", "fixed"), "detector")
        if int(upscale) < 64:
            raise ValueError(f"upscale must be >= 64 pixels; got {upscale}")
        self.backend, self.detector, self.upscale = backend, detector, int(upscale)
        self.hog_upsample, self.batch_size = int(hog_upsample), int(batch_size)
        self.normalize_output = bool(normalize)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self._dlib = dlib
        self._hog = dlib.get_frontal_face_detector() if detector == "hog" else None
        self._sp = dlib.shape_predictor(model_path("shape_predictor_5_face_landmarks.dat"))
        if backend == "dlib":
            self._rec = dlib.face_recognition_model_v1(model_path())
            self.device = torch.device("cpu")
        else:
            self.device = torch_device(device)
            self.net = load_dlib_resnet(device=self.device)
            if self.device.type == "cpu":
                self.net = self.net.to(memory_format=torch.channels_last)
        self.center = None if center is None else self._check_center(center)

    @staticmethod
    def _check_center(center) -> np.ndarray:
        c = np.asarray(center, dtype=np.float32)
        if c.shape != (128,) or not np.isfinite(c).all():
            raise ValueError(f"center must be a finite (128,) vector; got shape {c.shape}")
        return c

    def with_center(self, center) -> DlibFaceDescriptor:
        """A shallow copy of this descriptor that subtracts ``center`` before normalising."""
        import copy

        other = copy.copy(self)
        other.center = None if center is None else self._check_center(center)
        return other

    # -- alignment ----------------------------------------------------------------------
    def _fixed_rect(self, side: int):
        l, t, r, b = (int(round(f * side)) for f in FIXED_BOX)
        return self._dlib.rectangle(l, t, r, b)

    def align(self, images) -> Alignment:
        """5-point landmark alignment of images to dlib 150x150 face chips.

        Parameters
        ----------
        images : uint8 (n, H, W, 3) RGB, or float (n, 3, H, W) in [-1, 1]

        Returns
        -------
        Alignment
        """
        imgs = as_uint8_images(images)
        n, h = imgs.shape[0], imgs.shape[1]
        scale = self.upscale / h
        big = _upscale(imgs, self.upscale)
        chips = np.empty((n, 150, 150, 3), np.uint8)
        marks = np.empty((n, 5, 2), np.float32)
        boxes = np.empty((n, 4), np.float32)
        detected = np.zeros(n, bool)
        fixed = self._fixed_rect(self.upscale)
        centre = np.array([self.upscale / 2, self.upscale / 2])
        for i in range(n):
            rect = fixed
            if self._hog is not None:
                dets = self._hog(big[i], self.hog_upsample)
                if len(dets):
                    # the GAN draws one centred face: take the detection nearest the centre
                    dc = [
                        np.hypot((d.left() + d.right()) / 2 - centre[0], (d.top() + d.bottom()) / 2 - centre[1])
                        for d in dets
                    ]
                    rect = dets[int(np.argmin(dc))]
                    detected[i] = True
            shape = self._sp(big[i], rect)
            chips[i] = self._dlib.get_face_chip(big[i], shape, size=150, padding=0.25)
            marks[i] = [(p.x / scale, p.y / scale) for p in shape.parts()]
            boxes[i] = (rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale)
        return Alignment(chips=chips, landmarks=marks, boxes=boxes, detected=detected)

    # -- the network ----------------------------------------------------------------------
    def embed_chips(self, chips) -> np.ndarray:
        """Raw 128-D dlib descriptors (n, 128) float32 of aligned chips (n, 150, 150, 3) uint8."""
        chips = np.ascontiguousarray(np.asarray(chips, dtype=np.uint8))
        if chips.ndim != 4 or chips.shape[1:] != (150, 150, 3):
            raise ValueError(f"chips must be (n, 150, 150, 3) uint8; got shape {chips.shape}")
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        if self.backend == "dlib":
            out = []
            for s in range(0, len(chips), self.batch_size):
                out.append(
                    np.asarray(
                        self._rec.compute_face_descriptor(list(chips[s : s + self.batch_size])), dtype=np.float32
                    )
                )
            return np.concatenate(out)
        return self._embed_torch(chips)

    @torch.inference_mode()
    def _embed_torch(self, chips) -> np.ndarray:
        out = np.empty((len(chips), 128), np.float32)
        cl = self.device.type == "cpu"
        for s in range(0, len(chips), self.batch_size):
            x = self.net.preprocess(chips[s : s + self.batch_size])
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            out[s : s + self.batch_size] = self.net(x).float().cpu().numpy()
        return out

    def raw(self, images) -> np.ndarray:
        """Raw (uncentred, unnormalised) descriptors (n, 128) of images.

        Chunks are pipelined: while the network embeds chunk k in a worker thread
        (torch releases the GIL), dlib aligns chunk k + 1 in this one, so alignment and
        the network use two cores even with ``torch.set_num_threads(1)``.
        """
        imgs = as_uint8_images(images)
        n = len(imgs)
        out = np.empty((n, 128), np.float32)
        step = max(self.batch_size, 128)
        with progress_bar(self.progress and n > step, total=n, unit="face", desc="faces") as bar:

            def finish(job):
                s, fut = job
                e = fut.result()
                out[s : s + len(e)] = e
                bar.update(len(e))

            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = None
                for s in range(0, n, step):
                    chips = self.align(imgs[s : s + step]).chips
                    if pending is not None:
                        finish(pending)
                    pending = (s, pool.submit(self.embed_chips, chips))
                if pending is not None:
                    finish(pending)
        return out

    def normalize(self, raw) -> np.ndarray:
        """Centre (if ``center`` is set) and scale raw descriptors (n, 128) to unit length."""
        e = np.asarray(raw, dtype=np.float64)
        if self.center is not None:
            e = e - self.center
        norm = np.linalg.norm(e, axis=1, keepdims=True)
        if (norm == 0).any():
            raise ValueError("a descriptor is zero after centring; cannot normalise")
        return (e / norm).astype(np.float32)

    def __call__(self, images) -> np.ndarray:
        """Unit descriptors (n, 128) float32 of images (uint8 (n, H, W, 3) or float (n, 3, H, W)).

        Raw descriptors instead when the descriptor was built with ``normalize=False``.
        """
        raw = self.raw(images)
        return self.normalize(raw) if self.normalize_output else raw

    @property
    def identity(self) -> str:
        """Stable identity for embedding stores: everything that changes the output.

        The backend and device are left out: the torch port and dlib agree to float
        rounding (cosine >= 0.9999999 on GAN faces, see the tests).
        """
        import hashlib

        c = "none" if self.center is None else hashlib.sha256(self.center.tobytes()).hexdigest()[:16]
        out = "unit" if self.normalize_output else "raw"
        return (
            f"DlibFaceDescriptor(dlib_face_recognition_resnet_model_v1, detector={self.detector}, "
            f"upscale={self.upscale}, "
            f"hog_upsample={self.hog_upsample}, fixed_box={FIXED_BOX}, chip=150/0.25, center={c}, output={out})"
        )

    def __repr__(self):
        c = "none" if self.center is None else "reference mean"
        return (
            f"DlibFaceDescriptor(backend={self.backend!r}, device={self.device}, detector={self.detector!r}, "
            f"upscale={self.upscale}, center={c}, output={'unit' if self.normalize_output else 'raw'})"
        )


def reference_mean(raw) -> np.ndarray:
    """Mean raw descriptor (128,) of a reference set (n, 128), for ``DlibFaceDescriptor(center=...)``."""
    r = np.asarray(raw, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 128 or len(r) < 2:
        raise ValueError(f"raw must be (n >= 2, 128) descriptors; got shape {r.shape}")
    return r.mean(axis=0).astype(np.float32)


#: Seed of the reference set whose mean descriptor centres the face descriptor.
REFERENCE_SEED = 777_000
REFERENCE_N = 1000


def face_reference_mean(
    sampler=None, descriptor=None, *, n: int = REFERENCE_N, seed: int = REFERENCE_SEED, cache_dir=None
) -> np.ndarray:
    """The reference centre: mean raw descriptor of ``n`` base-DCGAN faces from ``seed``.

    The centre belongs to the *descriptor*: it is computed once from the pretrained
    DCGAN and then kept fixed, also when a calibrated generator is diagnosed (a
    descriptor must not change with the model it measures).

    Parameters
    ----------
    sampler : the base generator (default: a new :class:`FaceDCGAN`)
    descriptor : a :class:`DlibFaceDescriptor` (its alignment settings are used; default: a new one)
    n, seed : size and seed of the reference set
    cache_dir : optional directory; the mean is cached there as a .npy keyed by the settings
    """
    descriptor = descriptor or DlibFaceDescriptor()
    path = None
    if cache_dir is not None:
        import hashlib

        key = hashlib.sha256(f"{descriptor.with_center(None).identity}|{seed}|{n}".encode()).hexdigest()[:16]
        path = os.path.join(cache_dir, f"face_reference_mean_{key}.npy")
        if os.path.exists(path):
            return np.load(path, allow_pickle=False)
    sampler = sampler or FaceDCGAN(device=descriptor.device if descriptor.backend == "torch" else None)
    centre = reference_mean(descriptor.raw(sampler(seed, n).x))
    if path is not None:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npy"
        np.save(tmp, centre, allow_pickle=False)
        os.replace(tmp, path)
    return centre


def face_subject(device=None, backend: str = "torch", *, center="reference", cache_dir=None, **descriptor_kwargs):
    """(sampler, descriptor): the face DCGAN and the dlib face descriptor.

    Parameters
    ----------
    device : torch device for the generator and the torch descriptor
    backend : "torch" or "dlib"
    center : "reference" (default: centre by :func:`face_reference_mean`, computed once
        and cached in ``cache_dir``), None (raw dlib directions), or a (128,) vector
    cache_dir : where the reference centre is cached
    descriptor_kwargs : passed to :class:`DlibFaceDescriptor`
    """
    sampler = FaceDCGAN(device=device)
    descriptor = DlibFaceDescriptor(backend=backend, device=device, **descriptor_kwargs)
    if isinstance(center, str):
        if center != "reference":
            raise ValueError(f"center must be 'reference', None or a (128,) vector; got {center!r}")
        center = face_reference_mean(sampler, descriptor, cache_dir=cache_dir)
    return sampler, descriptor.with_center(center)


def face_descriptor(device=None, backend: str = "torch", *, cache_dir="data/cache", **descriptor_kwargs):
    """The centred dlib face descriptor alone (the CLI's ``--descriptor faces``).

    The reference centre is cached in ``cache_dir`` (shared with the book's notebooks).
    """
    sampler = FaceDCGAN(device=device)
    descriptor = DlibFaceDescriptor(backend=backend, device=device, **descriptor_kwargs)
    return descriptor.with_center(face_reference_mean(sampler, descriptor, cache_dir=cache_dir))
