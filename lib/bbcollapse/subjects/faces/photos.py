"""Real-identity photos as a check that a face descriptor separates people (not GAN artefacts).

The photos are the ``tests/test_images`` of the PyPI sdist ``face_recognition==1.3.0`` (three of
one person, one of another; ``make setup`` installs them, :func:`~.models.identity_photo_files`
checks their SHA-256).  The check: every same-person pair is closer (higher cosine) than every
different-person pair (:func:`pair_cosines`).  A descriptor fed whole 64x64 DCGAN frames sees the
photos framed the same way (:func:`framed_photos`: ``fr_detect``'s box placed where the DCGAN's
faces sit, then resized).
"""

from __future__ import annotations

import re

import numpy as np

from .models import identity_photo_files

__all__ = ["identity_photos", "framed_photos", "pair_cosines"]


def identity_photos() -> tuple:
    """(names, person labels, RGB uint8 images of varying size) of the real-identity photos."""
    from PIL import Image

    files = identity_photo_files()
    names = list(files)
    labels = np.array([re.sub(r"\d*\.jpg$", "", name) for name in names])  # obama2.jpg -> obama
    images = [np.asarray(Image.open(files[name]).convert("RGB")) for name in names]
    return names, labels, images


def framed_photos(images, size: int, aligner=None) -> np.ndarray:
    """Photos cut and resized like DCGAN frames: (n, size, size, 3) uint8 (``aligner``: a :class:`FaceAligner5`)."""
    from .align5 import FaceAligner5, reframe

    aligner = aligner or FaceAligner5()
    return np.stack([reframe(img, aligner.detect(img)[0], size) for img in images])


def pair_cosines(embeddings, labels) -> dict:
    """Same-person and different-person cosines of unit embeddings (n, D) with person ``labels`` (n,).

    Returns
    -------
    dict: ``same`` and ``different`` (lists of cosines), ``margin`` (min same - max different) and
    ``separated`` (every same-person pair closer than every different-person pair: margin > 0)
    """
    e = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(e), 1)
    cos = (e[i] * e[j]).sum(1)
    same = labels[i] == labels[j]
    if not same.any() or same.all():
        raise ValueError("labels must give at least one same-person and one different-person pair")
    margin = float(cos[same].min() - cos[~same].max())
    return {"same": cos[same].tolist(), "different": cos[~same].tolist(), "margin": margin, "separated": margin > 0}
