"""The face subject: a pretrained face DCGAN (the black box) and dlib's face descriptor ``F_id``.

The book's face experiments (paper 000's setting, Sec. 3) on what can run here:

* :mod:`.generator`: :class:`FaceDCGAN`, the DigiFace-1M DCGAN of ``gan-face-generate``
  (``z ~ N(0, I_100)`` -> 64x64 RGB faces);
* :mod:`.descriptor`: :class:`DlibFaceDescriptor` (dlib alignment + the 128-D ResNet, centred
  by a reference mean and returned as unit vectors) and the assembled subject
  (:func:`face_subject`, :func:`face_descriptor`);
* :mod:`.dlib_resnet`: the torch port of dlib's ResNet, read from dlib's own model file;
* :mod:`.identity`: identity-preserving views, same/different distances and the data-driven
  choice of ``theta`` (Eq. 4) and ``r`` (Eq. 5) for this descriptor (:func:`choose_theta_r`).

Every public name of the submodules is available here (``from bbcollapse.subjects import faces;
faces.FaceDCGAN``), as the CLI registry (``bbcollapse.subjects.faces:FaceDCGAN``) expects.
"""

from __future__ import annotations

from .descriptor import (
    FIXED_BOX,
    REFERENCE_N,
    REFERENCE_SEED,
    Alignment,
    DlibFaceDescriptor,
    as_uint8_images,
    face_descriptor,
    face_reference_mean,
    face_subject,
    reference_mean,
)
from .dlib_resnet import DlibNet, DlibResNet, load_dlib_resnet, model_path, read_dlib_net
from .generator import FaceDCGAN, torch_device
from .identity import (
    DLIB_THRESHOLD,
    ThetaR,
    choose_theta_r,
    dlib_threshold_distance,
    face_views,
    identity_distances,
    separation,
    unit_descriptors,
)

#: The name notebook 03 uses for :func:`unit_descriptors` (kept so the chapter runs unchanged).
_unit = unit_descriptors

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
    "unit_descriptors",
    "as_uint8_images",
    "torch_device",
    "REFERENCE_SEED",
    "REFERENCE_N",
    "FIXED_BOX",
    "DLIB_THRESHOLD",
    "DlibResNet",
    "DlibNet",
    "load_dlib_resnet",
    "read_dlib_net",
    "model_path",
]
