"""The face subject: a pretrained face DCGAN (the black box) and dlib's face descriptor.

* :class:`FaceDCGAN` is the generator of the PyPI wheel ``gan-face-generate`` (a DCGAN
  trained on DigiFace-1M): ``z ~ N(0, I_100)`` -> a 64x64 RGB face.  It is a latent
  model (``latents``, ``generate``, ``__call__(seed, n) -> Batch(z, images)``); images
  are returned as uint8 arrays (n, 64, 64, 3).  Batch norm runs on its stored running
  statistics (eval mode), so an image depends on its own latent only.
* :class:`DlibFaceDescriptor` is the paper's ``F_id`` substitute: dlib's 5-point
  landmark alignment to a 150x150 chip (``dlib.get_face_chip``, padding 0.25, as in
  ``face_recognition_model_v1``), then dlib's 128-D face-recognition ResNet, either
  dlib's own (``backend="dlib"``) or the torch port of :mod:`.dlib_resnet`
  (``backend="torch"``, batched on CPU or CUDA, verified against dlib).  The 64x64
  image is first upscaled (bilinear) to ``upscale`` pixels because dlib's HOG face
  detector does not fire below ~80 px faces; where the detector finds no face the GAN's
  faces being centred, a fixed box (:data:`FIXED_BOX`, the mean detected box)
  seeds the landmark predictor.  Descriptors are optionally centred by a reference
  mean (``center``) and returned as unit vectors.
* :func:`choose_theta_r` is the documented, data-driven rule for the similarity width
  ``theta`` and the neighbour radius ``r`` of this descriptor.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..blackbox import Batch
from .dlib_resnet import load_dlib_resnet, model_path

log = logging.getLogger(__name__)

__all__ = [
    "FaceDCGAN",
    "DlibFaceDescriptor",
    "Alignment",
    "face_subject",
    "face_descriptor",
    "face_views",
    "choose_theta_r",
    "ThetaR",
    "dlib_threshold_distance",
    "identity_distances",
    "separation",
    "reference_mean",
    "face_reference_mean",
    "REFERENCE_SEED",
    "FIXED_BOX",
]

#: Fixed face box (left, top, right, bottom) as fractions of the image side: the
#: mean of dlib's HOG detections on 200 samples of the DCGAN (seed 0, 150 px), rounded
#: (measured: 0.124, 0.242, 0.869, 0.988; notebook 03 re-measures it on its reference set).
FIXED_BOX = (0.12, 0.24, 0.87, 0.98)

#: dlib's published same-person threshold: Euclidean distance 0.6 between descriptors.
DLIB_THRESHOLD = 0.6


def _device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _weights_path() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("gan-face-generate is not installed: pip install --no-deps gan-face-generate")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "weights.tar")
        if os.path.exists(path):
            return path
    raise FileNotFoundError("weights.tar not found in the gan-face-generate package")


def _dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Sequential:
    """The DCGAN generator of the PyTorch tutorial (the wheel's ``models.Generator.main``).

    Re-declared here (same layer indices, so the wheel's state dict loads) to avoid
    importing the wheel, whose other modules need torchvision.
    """
    layers = []
    chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
    for i in range(4):
        layers += [
            nn.ConvTranspose2d(chans[i], chans[i + 1], 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
            nn.BatchNorm2d(chans[i + 1]),
            nn.ReLU(True),
        ]
    layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


class FaceDCGAN:
    """The pretrained face DCGAN of ``gan-face-generate`` as a latent model.

    Parameters
    ----------
    device : torch device (default: cuda when available, else cpu)
    batch_size : images per forward pass

    Notes
    -----
    ``generate(z)`` maps latents (n, 100) to uint8 RGB images (n, 64, 64, 3);
    ``generate(z, raw=True)`` returns the generator's float output (n, 3, 64, 64) in [-1, 1].
    """

    latent_dim = 100
    image_size = 64

    def __init__(self, device=None, batch_size: int = 128):
        self.device = _device(device)
        self.batch_size = int(batch_size)
        state = torch.load(_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
        main = _dcgan_generator()
        main.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
        self.net = main.to(self.device).eval()
        self._weights = _weights_path()

    @property
    def identity(self) -> str:
        """Stable identity for embedding stores: the weights file's SHA-256 (not the device)."""
        from ..blackbox.protocols import file_sha256

        if not hasattr(self, "_sha"):
            self._sha = file_sha256(self._weights)[:16]
        return f"FaceDCGAN(gan-face-generate weights sha256:{self._sha})"

    def latents(self, seed: int, n: int) -> np.ndarray:
        """z ~ N(0, I_100), float32 (n, 100), from ``numpy.random.default_rng(seed)``."""
        if int(n) < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        return np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype(np.float32)

    @torch.inference_mode()
    def generate(self, z, raw: bool = False):
        """Images of latents ``z`` (n, 100): uint8 (n, 64, 64, 3), or float (n, 3, 64, 64) if ``raw``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}); got {z.shape}")
        outs = []
        for s in range(0, len(z), self.batch_size):
            x = self.net(torch.from_numpy(z[s : s + self.batch_size]).to(self.device)[:, :, None, None])
            if raw:
                outs.append(x.float().cpu().numpy())
            else:
                outs.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
        if not outs:
            return np.zeros((0, 3, 64, 64), np.float32) if raw else np.zeros((0, 64, 64, 3), np.uint8)
        return np.concatenate(outs)

    def __call__(self, seed: int, n: int) -> Batch:
        z = self.latents(seed, n)
        return Batch(z, self.generate(z))

    def __repr__(self):
        return f"FaceDCGAN(gan-face-generate DigiFace-1M DCGAN, latent_dim=100, 64x64, device={self.device})"


# ----------------------------------------------------------------------------------------
# alignment


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


def _as_uint8_images(images) -> np.ndarray:
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
    progress : tqdm progress bar (default: only when stderr is a terminal).
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

        if backend not in ("torch", "dlib"):
            raise ValueError(f"backend must be 'torch' or 'dlib'; got {backend!r}")
        if detector not in ("hog", "fixed"):
            raise ValueError(f"detector must be 'hog' or 'fixed'; got {detector!r}")
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
            self.device = _device(device)
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

    def with_center(self, center) -> "DlibFaceDescriptor":
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
        imgs = _as_uint8_images(images)
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
                    dc = [np.hypot((d.left() + d.right()) / 2 - centre[0], (d.top() + d.bottom()) / 2 - centre[1]) for d in dets]
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
                out.append(np.asarray(self._rec.compute_face_descriptor(list(chips[s : s + self.batch_size])), dtype=np.float32))
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
        imgs = _as_uint8_images(images)
        n = len(imgs)
        out = np.empty((n, 128), np.float32)
        step = max(self.batch_size, 128)
        bar = None
        if self.progress and n > step:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, unit="face", desc="faces")

        def finish(job):
            s, fut = job
            e = fut.result()
            out[s : s + len(e)] = e
            if bar is not None:
                bar.update(len(e))

        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = None
                for s in range(0, n, step):
                    chips = self.align(imgs[s : s + step]).chips
                    if pending is not None:
                        finish(pending)
                    pending = (s, pool.submit(self.embed_chips, chips))
                if pending is not None:
                    finish(pending)
        finally:
            if bar is not None:
                bar.close()
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
            f"DlibFaceDescriptor(dlib_face_recognition_resnet_model_v1, detector={self.detector}, upscale={self.upscale}, "
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


def face_reference_mean(sampler=None, descriptor=None, *, n: int = REFERENCE_N, seed: int = REFERENCE_SEED, cache_dir=None) -> np.ndarray:
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


# ----------------------------------------------------------------------------------------
# views of one identity, and the choice of theta and r


def face_views(images, seed: int, n_views: int = 4, max_shift: int = 3, crop: tuple = (0.85, 0.95)) -> np.ndarray:
    """Identity-preserving views of each image: horizontal flip, jitter, small crops.

    View 0 is the horizontal flip; later views alternate a translation of up to
    ``max_shift`` pixels (edge-replicated) and a centred-jittered crop of a fraction
    ``crop`` of the side resized back (bilinear), each also flipped at random.

    Parameters
    ----------
    images : uint8 (n, H, W, 3)
    seed : random seed of the views
    n_views : views per image

    Returns
    -------
    uint8 (n, n_views, H, W, 3)
    """
    imgs = _as_uint8_images(images)
    n, h, w, _ = imgs.shape
    rng = np.random.default_rng(seed)
    out = np.empty((n, n_views, h, w, 3), np.uint8)
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
    for v in range(n_views):
        if v == 0:
            out[:, v] = imgs[:, :, ::-1]
            continue
        for i in range(n):
            x = t[i : i + 1]
            if v % 2 == 1:
                dx, dy = rng.integers(-max_shift, max_shift + 1, size=2)
                p = max_shift
                x = F.pad(x, (p, p, p, p), mode="replicate")[:, :, p + dy : p + dy + h, p + dx : p + dx + w]
            else:
                f = rng.uniform(*crop)
                ch, cw = int(round(f * h)), int(round(f * w))
                y0 = rng.integers(0, h - ch + 1)
                x0 = rng.integers(0, w - cw + 1)
                x = F.interpolate(x[:, :, y0 : y0 + ch, x0 : x0 + cw], size=(h, w), mode="bilinear", align_corners=False)
            if rng.random() < 0.5:
                x = x.flip(3)
            out[i, v] = x.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    return out


def _unit(raw, center=None) -> np.ndarray:
    e = np.asarray(raw, dtype=np.float64)
    if center is not None:
        e = e - np.asarray(center, dtype=np.float64)
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def identity_distances(raw, raw_views, *, center=None) -> tuple:
    """Same-identity and different-sample distances of raw descriptors.

    Parameters
    ----------
    raw : (n, 128) raw descriptors of n images
    raw_views : (n, v, 128) raw descriptors of v identity-preserving views of each image
    center : optional (128,) centre subtracted before normalising

    Returns
    -------
    same : (n * v,) distances d(image, its view)
    diff : (n (n - 1) / 2,) distances between different images
    """
    raw = np.asarray(raw)
    raw_views = np.asarray(raw_views)
    if raw.ndim != 2 or raw_views.ndim != 3 or raw_views.shape[0] != raw.shape[0] or raw_views.shape[2] != raw.shape[1]:
        raise ValueError(f"raw must be (n, D) and raw_views (n, v, D); got {raw.shape} and {raw_views.shape}")
    u, uv = _unit(raw, center), _unit(raw_views, center)
    same = np.arccos(np.clip(np.einsum("nd,nvd->nv", u, uv), -1, 1)).ravel() / np.pi
    iu = np.triu_indices(len(u), 1)
    diff = np.arccos(np.clip((u @ u.T)[iu], -1, 1)) / np.pi
    return same, diff


def separation(same, diff) -> dict:
    """How well distances separate identities: d', AUC and the equal error rate.

    ``d' = (mean diff - mean same) / sqrt((var same + var diff) / 2)``; AUC is
    P(a same-identity distance < a different-sample distance) (ties count one half).
    """
    same = np.asarray(same, dtype=np.float64).ravel()
    diff = np.asarray(diff, dtype=np.float64).ravel()
    dprime = (diff.mean() - same.mean()) / np.sqrt((same.var(ddof=1) + diff.var(ddof=1)) / 2)
    ds = np.sort(diff)
    less = len(ds) - np.searchsorted(ds, same, side="right")
    ties = np.searchsorted(ds, same, side="right") - np.searchsorted(ds, same, side="left")
    auc = float((less + 0.5 * ties).sum() / (len(same) * len(ds)))
    eer_d, eer = _eer(same, diff)
    return {
        "dprime": float(dprime),
        "auc": auc,
        "eer": eer,
        "eer_distance": eer_d,
        "same_median": float(np.median(same)),
        "same_q95": float(np.quantile(same, 0.95)),
        "diff_q05": float(np.quantile(diff, 0.05)),
        "diff_median": float(np.median(diff)),
    }


def dlib_threshold_distance(threshold: float = DLIB_THRESHOLD, norm: float = 1.0) -> float:
    """Normalised angular distance equivalent to dlib's Euclidean threshold.

    For two vectors of length ``norm`` at Euclidean distance ``t``:
    ``d = arccos(1 - t^2 / (2 norm^2)) / pi`` (``norm = 1``: 0.6 -> 0.194).
    """
    c = 1.0 - threshold**2 / (2.0 * norm**2)
    return float(np.arccos(np.clip(c, -1, 1)) / np.pi)


@dataclass(frozen=True)
class ThetaR:
    """The similarity width ``theta`` and neighbour radius ``r`` with the evidence behind them.

    Attributes
    ----------
    theta, r : chosen values (normalised angular distances)
    same_q : quantile ``q_same`` of same-identity view distances (= r)
    diff_q : quantile ``q_diff`` of distances between different samples (= theta)
    eer_distance : distance where the false-match and false-non-match rates are equal
    eer : that error rate
    dlib_distance : dlib's 0.6 threshold as an angular distance (unit vectors)
    """

    theta: float
    r: float
    same_q: float
    diff_q: float
    eer_distance: float
    eer: float
    dlib_distance: float
    rule: str

    def __repr__(self):
        return (
            f"ThetaR(theta={self.theta:.3f}, r={self.r:.3f}, eer_distance={self.eer_distance:.3f}, "
            f"eer={self.eer:.3f}, dlib_distance={self.dlib_distance:.3f})"
        )


def _eer(same: np.ndarray, diff: np.ndarray) -> tuple:
    grid = np.unique(np.concatenate([same, diff]))
    fnmr = 1.0 - np.searchsorted(np.sort(same), grid, side="right") / len(same)  # same pairs farther than d
    fmr = np.searchsorted(np.sort(diff), grid, side="right") / len(diff)  # different pairs within d
    i = int(np.argmin(np.abs(fnmr - fmr)))
    return float(grid[i]), float((fnmr[i] + fmr[i]) / 2)


def choose_theta_r(same, diff, *, q_same: float = 0.95, q_diff: float = 0.05) -> ThetaR:
    """Data-driven theta and r for a descriptor.

    Rule (the paper's roles for r and theta, read off two distance samples):

    * ``r`` (the neighbourhood of a mode, "is this the same identity?") is the
      ``q_same`` quantile of distances between views of one identity, so a mode's own
      views fall within r with probability q_same;
    * ``theta`` (where the similarity kernel vanishes) is the ``q_diff`` quantile of
      distances between different samples, so the kernel only credits pairs closer
      than all but a fraction q_diff of unrelated pairs; if that is below r, theta = r.

    The equal-error distance and dlib's own threshold are reported beside them.

    Parameters
    ----------
    same : (p,) distances between views of the same identity
    diff : (q,) distances between different samples
    q_same, q_diff : quantiles in (0, 1)
    """
    same = np.asarray(same, dtype=np.float64).ravel()
    diff = np.asarray(diff, dtype=np.float64).ravel()
    if same.size < 10 or diff.size < 10:
        raise ValueError(f"need at least 10 same and 10 different distances; got {same.size} and {diff.size}")
    for name, q in (("q_same", q_same), ("q_diff", q_diff)):
        if not 0 < q < 1:
            raise ValueError(f"{name} must lie in (0, 1); got {q}")
    r = float(np.quantile(same, q_same))
    dq = float(np.quantile(diff, q_diff))
    theta = max(dq, r)
    eer_d, eer = _eer(same, diff)
    return ThetaR(
        theta=theta,
        r=r,
        same_q=r,
        diff_q=dq,
        eer_distance=eer_d,
        eer=eer,
        dlib_distance=dlib_threshold_distance(),
        rule=f"r = q{q_same:g} of same-identity view distances; theta = max(r, q{q_diff:g} of different-sample distances)",
    )
