"""Calibration without retraining (paper 000, section 3.2): every calibrator returns a new Sampler.

Every calibrator takes a latent model (``latents(seed, n)``, ``generate(z)``,
``__call__(seed, n) -> Batch``; see :mod:`bbcollapse.blackbox`), the descriptor where it needs
one, and the embeddings of the dense modes ``I_m`` to calibrate (usually the worst case ``I_w``
of :func:`bbcollapse.dense_modes`).  It is fitted on N latents and their embeddings (arrays, an
:class:`~bbcollapse.store.EmbeddingStore`, or drawn on the fly), counts neighbours through the
engine, and **returns a Sampler** of the same protocol (:class:`CalibratedSampler`), so the
calibrated model is diagnosed by the same code.  Each one keeps its running cost and returns a
:class:`CalibrationReport`.

Modules, by concern:

* ``base`` -- :class:`CalibratedSampler` (the rounds of proposals) and :class:`CalibrationReport`;
* ``fitting`` -- the fitting set (:func:`fit_set`) and the engine's neighbour counts;
* ``cluster`` -- Algorithm 1: :func:`cluster_weights`, :func:`gmm_calibrator`, :func:`voronoi_calibrator`;
* ``regions`` and ``rejection`` -- Algorithm 2: the dense regions (output, latent ball, hull) and
  :func:`rejection_calibrator`;
* ``importance`` -- :func:`importance_weights` from a calibrated law's ``log_density_ratio``;
* ``whitebox`` -- the WHITE-BOX baseline (paper 001): :func:`white_box_latents` and
  :func:`white_box_rejection_calibrator`.
"""

from .base import CalibratedSampler, CalibrationReport
from .cluster import (
    WEIGHTINGS,
    ClusterWeights,
    GMMCalibrated,
    VoronoiCalibrated,
    cluster_weights,
    gmm_calibrator,
    voronoi_calibrator,
)
from .fitting import FitSet, fit_set
from .importance import importance_weights
from .regions import REGIONS, DenseRegion, hull_residual, in_latent_ball, in_latent_hull
from .rejection import RejectionCalibrated, acceptance_probability, rejection_calibrator
from .whitebox import WhiteBoxLatents, white_box_latents, white_box_rejection_calibrator

__all__ = [
    "CalibrationReport",
    "ClusterWeights",
    "cluster_weights",
    "gmm_calibrator",
    "voronoi_calibrator",
    "rejection_calibrator",
    "acceptance_probability",
    "importance_weights",
    "in_latent_ball",
    "in_latent_hull",
    "hull_residual",
    "white_box_latents",
    "WhiteBoxLatents",
    "white_box_rejection_calibrator",
    "GMMCalibrated",
    "VoronoiCalibrated",
    "RejectionCalibrated",
    # new with the split
    "CalibratedSampler",
    "DenseRegion",
    "FitSet",
    "fit_set",
    "REGIONS",
    "WEIGHTINGS",
]
