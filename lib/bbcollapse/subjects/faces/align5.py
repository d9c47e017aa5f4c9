"""5-point ArcFace alignment with the npm package's own detector and landmark networks.

The way ``faceplugin-face-recognition-js`` feeds its ArcFace-class network, in numpy and torch:

1. ``fr_detect.onnx`` (a 320x240 single-shot face detector): the image resized to 320x240, RGB,
   ``(x - 127) / 128``; boxes in corner form as fractions of the image; the most confident box is
   the face (where no box passes 0.65, the fallback box given by the caller);
2. ``fr_landmark.onnx`` (68 landmarks): the box cut out, resized to 64x64, grey, ``x / 256``;
   landmarks come as fractions of the box;
3. five points from the 68 (the package's ``convert68pts5pts``: eye centres from four points each,
   nose tip, mouth corners from two points each);
4. the least-squares similarity transform (Umeyama) taking the five points to ArcFace's reference
   positions in a 112x112 crop (:data:`ARCFACE_REFERENCE_5`, as InsightFace's ``norm_crop``),
   and a bilinear warp of the image into that crop.

This is the "aligned" input of :class:`~bbcollapse.subjects.faces.arcface.ArcFaceDescriptor`;
paper 000's descriptor is fed the whole frame instead (no alignment), and notebook 03 measures both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .models import model_file
from .onnx_net import ort_session
from .pipeline import DetectionRecord

__all__ = [
    "ARCFACE_REFERENCE_5",
    "DCGAN_DETECT_BOX",
    "FaceAligner5",
    "Aligned5",
    "five_points",
    "similarity_transform",
    "warp_affine",
    "reframe",
]

#: ArcFace's reference positions (x, y) of the 5 points in a 112x112 crop (left eye, right eye,
#: nose tip, left and right mouth corners), as in InsightFace and the npm package.
ARCFACE_REFERENCE_5 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

#: Where ``fr_detect`` finds the face in a DCGAN frame (left, top, right, bottom, fractions of the
#: side): the mean box over 200 samples (seed 0; a face found in 160), rounded (measured: 0.186,
#: 0.155, 0.840, 0.923).  The aligner's fallback box, and the framing :func:`reframe` gives photos.
DCGAN_DETECT_BOX = (0.19, 0.16, 0.84, 0.92)

_DETECT_SIZE = (320, 240)  # (width, height) of the detector's input
_DETECT_THRESHOLD = 0.65


def five_points(landmarks68) -> np.ndarray:
    """Five points (n, 5, 2) from 68-point landmarks (n, 68, 2), as the npm package's ``convert68pts5pts``."""
    p = np.asarray(landmarks68, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (68, 2):
        raise ValueError(f"landmarks68 must be (n, 68, 2); got shape {p.shape}")
    return np.stack(
        [
            p[:, [37, 38, 40, 41]].mean(1),
            p[:, [43, 44, 46, 47]].mean(1),
            p[:, 30],
            p[:, [48, 60]].mean(1),
            p[:, [54, 64]].mean(1),
        ],
        axis=1,
    )


def similarity_transform(src, dst) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking ``src`` to ``dst``.

    Umeyama's closed form (no reflection), as ``skimage.transform.SimilarityTransform.estimate``.

    Parameters
    ----------
    src, dst : (k, 2) points, k >= 2

    Returns
    -------
    (2, 3) float64 matrix M with ``dst ~ M @ [x, y, 1]``
    """
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"src and dst must both be (k >= 2, 2); got {src.shape} and {dst.shape}")
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / s.var(0).sum()
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def warp_affine(images, matrices, size: int = 112) -> np.ndarray:
    """Bilinear warp of uint8 images (n, H, W, 3) into (n, size, size, 3) crops by (n, 2, 3) matrices.

    ``matrices[i]`` maps input pixel coordinates (x, y) to crop coordinates (as ``cv2.warpAffine``);
    pixel centres are at integer coordinates and pixels outside the image are black.
    """
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2).float()
    n, _, h, w = x.shape
    m = np.asarray(matrices, dtype=np.float64)
    full = np.concatenate([m, np.tile([[[0.0, 0.0, 1.0]]], (n, 1, 1))], axis=1)
    inv = np.linalg.inv(full)[:, :2]  # crop pixel -> input pixel
    # normalised coordinates (align_corners=True): u = 2 x / (W - 1) - 1, and likewise for the crop
    to_norm_in = np.array([[2 / (w - 1), 0, -1], [0, 2 / (h - 1), -1], [0, 0, 1]])
    from_norm_out = np.array([[(size - 1) / 2, 0, (size - 1) / 2], [0, (size - 1) / 2, (size - 1) / 2], [0, 0, 1]])
    theta = to_norm_in[:2] @ np.concatenate([inv, np.tile([[[0.0, 0.0, 1.0]]], (n, 1, 1))], axis=1) @ from_norm_out
    grid = F.affine_grid(torch.from_numpy(theta).float(), (n, 3, size, size), align_corners=True)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def reframe(image, box, size: int, frame_box=DCGAN_DETECT_BOX) -> np.ndarray:
    """Cut a photo so that its face ``box`` sits where the DCGAN's faces sit, as a (size, size, 3) frame.

    The square crop maps ``box`` (left, top, right, bottom, pixels) onto ``frame_box`` (fractions of
    the side; the box's larger side sets the scale); pixels outside the photo are black.  This lets
    a descriptor fed whole DCGAN frames see real photos framed the same way.
    """
    b = np.asarray(box, dtype=np.float64)
    fb = np.asarray(frame_box, dtype=np.float64)
    scale = max((b[2] - b[0]) / (fb[2] - fb[0]), (b[3] - b[1]) / (fb[3] - fb[1])) / size  # photo px per frame px
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    fx, fy = (fb[0] + fb[2]) / 2 * size, (fb[1] + fb[3]) / 2 * size
    m = np.array([[1 / scale, 0, fx - cx / scale], [0, 1 / scale, fy - cy / scale]])
    return warp_affine(np.asarray(image)[None], m[None], size)[0]


@dataclass(repr=False)
class Aligned5(DetectionRecord):
    """Aligned 112x112 crops and what produced them.

    Attributes
    ----------
    crops : (n, 112, 112, 3) uint8
    points : (n, 5, 2) float64     the five points in input pixels
    boxes : (n, 4) float64         face box (left, top, right, bottom) in input pixels
    detected : (n,) bool           where the detector found the face (else the fallback box)
    """

    crops: np.ndarray
    points: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray


class FaceAligner5:
    """Detector + 68 landmarks + 5-point similarity warp to ArcFace's 112x112 crop (CPU, onnxruntime).

    Parameters
    ----------
    fallback_box : (left, top, right, bottom) as fractions of the image side, used where the
        detector finds no face (default: :data:`DCGAN_DETECT_BOX`; the DCGAN's faces are centred)
    """

    def __init__(self, fallback_box=DCGAN_DETECT_BOX):
        self.fallback_box = tuple(float(f) for f in fallback_box)
        self._detect = ort_session(model_file("fr_detect.onnx"), threads=1)
        self._landmark = ort_session(model_file("fr_landmark.onnx"), threads=1)

    def detect(self, image) -> tuple:
        """(box (4,) in pixels, detected) of the most confident face in one uint8 (H, W, 3) image."""
        h, w = image.shape[:2]
        t = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float()
        t = F.interpolate(t, size=(_DETECT_SIZE[1], _DETECT_SIZE[0]), mode="bilinear", align_corners=False)
        scores, boxes = self._detect.run(None, {"input": ((t - 127.0) / 128.0).numpy()})
        best = int(np.argmax(scores[0, :, 1]))
        if scores[0, best, 1] < _DETECT_THRESHOLD:
            return np.array(self.fallback_box) * [w, h, w, h], False
        return np.clip(boxes[0, best], 0, 1).astype(np.float64) * [w, h, w, h], True

    def landmarks68(self, images, boxes) -> np.ndarray:
        """68 landmarks (n, 68, 2) in input pixels of uint8 images (n, H, W, 3) in boxes (n, 4)."""
        crops = np.empty((len(images), 1, 64, 64), np.float32)
        for i, (img, b) in enumerate(zip(images, boxes)):
            x0, y0 = int(max(b[0], 0)), int(max(b[1], 0))
            x1, y1 = int(min(b[2], img.shape[1])), int(min(b[3], img.shape[0]))
            t = torch.from_numpy(np.array(img[y0:y1, x0:x1], dtype=np.uint8)).permute(2, 0, 1)[None].float()
            t = F.interpolate(t, size=(64, 64), mode="bilinear", align_corners=False)
            grey = (0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]).round()
            crops[i, 0] = (grey / 256.0).numpy()
        out = self._landmark.run(None, {"input": crops})[0].reshape(-1, 68, 2).astype(np.float64)
        b = np.asarray(boxes, dtype=np.float64)
        return out * (b[:, None, 2:] - b[:, None, :2]) + b[:, None, :2]

    def __call__(self, images) -> Aligned5:
        """Align a list or array of uint8 RGB images (each (H, W, 3), sizes may differ) to 112x112 crops."""
        images = list(images)
        found = [self.detect(img) for img in images]
        boxes = np.array([f[0] for f in found]).reshape(-1, 4)
        detected = np.array([f[1] for f in found], dtype=bool)
        points = five_points(self.landmarks68(images, boxes)) if images else np.zeros((0, 5, 2))
        crops = np.empty((len(images), 112, 112, 3), np.uint8)
        for i, img in enumerate(images):
            m = similarity_transform(points[i], ARCFACE_REFERENCE_5)
            crops[i] = warp_affine(img[None], m[None])[0]
        return Aligned5(crops=crops, points=points, boxes=boxes, detected=detected)

    def __repr__(self):
        return f"FaceAligner5(fr_detect + fr_landmark + 5-point similarity, fallback_box={self.fallback_box})"
