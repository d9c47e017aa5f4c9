"""The face subject: pretrained face DCGANs (the black boxes) and face descriptors ``F_id``.

The book's face experiments (paper 000's setting, Sec. 3 and Table 1) on what can run here:

* :mod:`.generator`: :class:`FaceDCGAN`, the DigiFace-1M DCGAN of ``gan-face-generate``
  (``z ~ N(0, I_100)`` -> 64x64 RGB faces), two checkpoints and the truncation trick;
* :mod:`.arcface`: :class:`ArcFaceDescriptor`, the ArcFace-class 512-D descriptor (the main one,
  fed the whole frame as the paper's authors feed InsightFace), with :mod:`.align5` (5-point
  alignment) and :mod:`.onnx_net` (its ONNX graph, batched, on onnxruntime or torch);
* :mod:`.descriptor`: :class:`DlibFaceDescriptor` (dlib alignment + the 128-D ResNet), the
  robustness check, and :mod:`.dlib_resnet`, the torch port of dlib's ResNet;
* :mod:`.subject`: the assembled subject (:func:`face_subject`, :func:`face_descriptor`) and its
  default theta and r (:func:`face_theta_r`, the rule's values shipped in ``theta_r.json``);
* :mod:`.identity`: identity-preserving views and same/different distances; the data-driven
  choice of ``theta`` (Eq. 3) and ``r`` (Eq. 5) read off them, :func:`choose_theta_r`, is the
  generic rule of :mod:`bbcollapse.stats.thresholds`, re-exported here;
* :mod:`.table1`: the Table 1 analogue (select I_w on S, score on a fresh T) and descriptor agreement;
* :mod:`.models`: where the model files live and their SHA-256 checks (``make setup`` installs them).

Every public name of the submodules is available here (``from bbcollapse.subjects import faces;
faces.FaceDCGAN``), as the CLI registry (``bbcollapse.subjects.faces:FaceDCGAN``) expects.
"""

from __future__ import annotations

from .align5 import (
    ARCFACE_REFERENCE_5,
    DCGAN_DETECT_BOX,
    Aligned5,
    FaceAligner5,
    five_points,
    reframe,
    similarity_transform,
    warp_affine,
)
from .arcface import ARCFACE_SIZE, ArcFaceDescriptor, frame_to_network_input
from .descriptor import FIXED_BOX, Alignment, DlibFaceDescriptor
from .dlib_resnet import DlibNet, DlibResNet, load_dlib_resnet, model_path, read_dlib_net
from .generator import CHECKPOINTS, FaceDCGAN, torch_device, truncated_latents
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
from .models import MODEL_SHA256, PHOTO_SHA256, ModelFileError, identity_photo_files, model_file, models_dir
from .onnx_net import SUPPORTED_OPS, OnnxTorchNet, batched_model, ort_session
from .photos import framed_photos, identity_photos, pair_cosines
from .pipeline import CentredDescriptor, as_uint8_images, pipelined, reference_mean
from .subject import (
    DESCRIPTORS,
    REFERENCE_N,
    REFERENCE_SEED,
    THETA_R_FILE,
    face_descriptor,
    face_reference_mean,
    face_subject,
    face_theta_r,
    make_face_descriptor,
)
from .table1 import Table1Row, descriptor_agreement, ordering_agreement, pairwise_agreement, table1_row

__all__ = [
    "FaceDCGAN",
    "CHECKPOINTS",
    "truncated_latents",
    "ArcFaceDescriptor",
    "ARCFACE_SIZE",
    "frame_to_network_input",
    "FaceAligner5",
    "Aligned5",
    "ARCFACE_REFERENCE_5",
    "five_points",
    "similarity_transform",
    "warp_affine",
    "reframe",
    "DCGAN_DETECT_BOX",
    "OnnxTorchNet",
    "batched_model",
    "ort_session",
    "SUPPORTED_OPS",
    "DlibFaceDescriptor",
    "Alignment",
    "face_subject",
    "face_descriptor",
    "make_face_descriptor",
    "face_theta_r",
    "THETA_R_FILE",
    "DESCRIPTORS",
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
    "CentredDescriptor",
    "pipelined",
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
    "models_dir",
    "model_file",
    "identity_photo_files",
    "ModelFileError",
    "MODEL_SHA256",
    "PHOTO_SHA256",
    "Table1Row",
    "table1_row",
    "descriptor_agreement",
    "ordering_agreement",
    "pairwise_agreement",
    "identity_photos",
    "framed_photos",
    "pair_cosines",
]
