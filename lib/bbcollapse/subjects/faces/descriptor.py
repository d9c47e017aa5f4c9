"""dlib's face descriptor, the robustness check on the face subject's ``F_id`` (paper 000, Sec. 3).

:class:`DlibFaceDescriptor` is the paper's ``F_id`` substitute: dlib's 5-point landmark
alignment to a 150x150 chip (``dlib.get_face_chip``, padding 0.25, as in
``face_recognition_model_v1``), then dlib's 128-D face-recognition ResNet, either dlib's own
(``backend="dlib"``) or the torch port of :mod:`.dlib_resnet` (``backend="torch"``, batched on
CPU or CUDA, verified against dlib).  The 64x64 image is first upscaled (bilinear) to
``upscale`` pixels because dlib's HOG face detector does not fire below ~80 px faces; where the
detector finds no face, the GAN's faces being centred, a fixed box (:data:`FIXED_BOX`, the mean
detected box) seeds the landmark predictor.  Descriptors are optionally centred by a reference
mean (``center``, :func:`~bbcollapse.subjects.faces.subject.face_reference_mean`) and returned as
unit vectors, the points on the sphere whose normalised angular distances (Eq. 3) every statistic
of the paper reduces.  The book's main descriptor is the ArcFace-class one (:mod:`.arcface`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..._validation import check_option
from .dlib_resnet import load_dlib_resnet, model_path
from .generator import torch_device
from .pipeline import CentredDescriptor, DetectionRecord, as_uint8_images, pipelined

log = logging.getLogger(__name__)

__all__ = ["DlibFaceDescriptor", "Alignment", "FIXED_BOX"]

#: Fixed face box (left, top, right, bottom) as fractions of the image side: the
#: mean of dlib's HOG detections on 200 samples of the DCGAN (seed 0, 150 px), rounded
#: (measured: 0.124, 0.242, 0.869, 0.988; notebook 03 re-measures it on its reference set).
FIXED_BOX = (0.12, 0.24, 0.87, 0.98)


@dataclass(repr=False)
class Alignment(DetectionRecord):
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


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upscaling of uint8 (n, H, W, 3) images to (n, size, size, 3)."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    # torch's uint8 bilinear kernel (channels-last input) is ~20x faster than the float path
    # and agrees with it to within one grey level
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t.permute(0, 2, 3, 1).contiguous().numpy()


class DlibFaceDescriptor(CentredDescriptor):
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
        self.progress = self._show_progress(progress)
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
        step = max(self.batch_size, 128)
        prepare = lambda s, e: self.align(imgs[s:e]).chips
        return pipelined(len(imgs), step, prepare, self.embed_chips, self.dim, progress=self.progress)

    @property
    def identity(self) -> str:
        """Stable identity for embedding stores: everything that changes the output.

        The backend and device are left out: the torch port and dlib agree to float
        rounding (cosine >= 0.9999999 on GAN faces, see the tests).
        """
        return (
            f"DlibFaceDescriptor(dlib_face_recognition_resnet_model_v1, detector={self.detector}, "
            f"upscale={self.upscale}, "
            f"hog_upsample={self.hog_upsample}, fixed_box={FIXED_BOX}, chip=150/0.25, center={self._center_tag()}, "
            f"output={self._output_tag()})"
        )

    def __repr__(self):
        where = f"backend={self.backend!r}, device={self.device}, detector={self.detector!r}, upscale={self.upscale}"
        return f"DlibFaceDescriptor({where}, center={self._center_word()}, output={self._output_tag()})"
