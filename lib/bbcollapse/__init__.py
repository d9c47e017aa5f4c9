"""bbcollapse: black-box diagnosis and calibration of intra-mode collapse.

A black box is anything that turns a seed into samples; every diagnosis is a
reduction over pairs of embeddings (see :func:`neighbor_stats`).  The data flow,
one subpackage per step::

    blackbox (Sampler, Descriptor, adapters) -> store (EmbeddingStore)
      -> neighbors (neighbor_stats -> NeighborStats) -> stats (MCCS, modes, tests, bootstrap)
      -> calibration (a new Sampler) -> diagnosis (diagnose, Report, Dask)

The core (distances, protocols, the engine, MCCS) is imported eagerly; every other
public name is imported on first use, from the module the map below names.
"""

from __future__ import annotations

import importlib

# The core, imported eagerly (numpy only): protocols, distances, the engine's entry point, MCCS.
from .blackbox.protocols import (  # noqa: F401
    Batch,
    BlackBoxError,
    Descriptor,
    GaussianLatentModel,
    LatentModel,
    Sampler,
    describe_batch,
    file_sha256,
    identity_descriptor,
    identity_of,
    sample_batch,
    shard_seed,
)
from .distance import angular_distance, cos_threshold, distance_from_cos, similarity, unit, validate_unit  # noqa: F401
from .neighbors import PAPER_GRID, AnchorScope, NeighborStats, error_band, neighbor_stats  # noqa: F401
from .stats.mccs import MCCS_FORMS, Population, mccs, population  # noqa: F401

__version__ = "0.1.0"

#: Public name -> the subpackage or module (relative to ``bbcollapse``) that defines it.
_PUBLIC: dict[str, str] = {
    # blackbox
    "Batch": "blackbox",
    "BlackBoxError": "blackbox",
    "Descriptor": "blackbox",
    "GaussianLatentModel": "blackbox",
    "LatentModel": "blackbox",
    "Sampler": "blackbox",
    "describe_batch": "blackbox",
    "identity_descriptor": "blackbox",
    "identity_of": "blackbox",
    "sample_batch": "blackbox",
    "shard_seed": "blackbox",
    # blackbox.adapters
    "CommandDescriptor": "blackbox.adapters",
    "CommandGenerator": "blackbox.adapters",
    "HttpDescriptor": "blackbox.adapters",
    "HttpGenerator": "blackbox.adapters",
    "OnnxDescriptor": "blackbox.adapters",
    "OnnxGenerator": "blackbox.adapters",
    "TorchDescriptor": "blackbox.adapters",
    "TorchGenerator": "blackbox.adapters",
    "load_state_dict": "blackbox.adapters",
    "post_array": "blackbox.adapters",
    "run_command": "blackbox.adapters",
    # calibration
    "CalibratedSampler": "calibration",
    # calibration.api, calibration.persist, serving, commands, diagnosis.html: the user's loop
    "CalibratedFileError": "calibration.persist",
    "CalibrationBudgetError": "calibration.api",
    "CalibrationTarget": "calibration.api",
    "IdentityMismatch": "calibration.api",
    "calibrate": "calibration.api",
    "calibration_target": "calibration.api",
    "choose_theta": "commands",
    "load_calibrated": "calibration.persist",
    "make_server": "serving",
    "render_html": "diagnosis.html",
    "report_images": "commands",
    "save_calibrated": "calibration.persist",
    "serve": "serving",
    "with_latents": "calibration.api",
    "write_html": "diagnosis.html",
    "FitSet": "calibration",
    "CalibrationReport": "calibration",
    "ClusterWeights": "calibration",
    "GMMCalibrated": "calibration",
    "RejectionCalibrated": "calibration",
    "VoronoiCalibrated": "calibration",
    "WhiteBoxLatents": "calibration",
    "acceptance_probability": "calibration",
    "cluster_weights": "calibration",
    "gmm_calibrator": "calibration",
    "hull_residual": "calibration",
    "importance_weights": "calibration",
    "in_latent_ball": "calibration",
    "in_latent_hull": "calibration",
    "rejection_calibrator": "calibration",
    "voronoi_calibrator": "calibration",
    "white_box_latents": "calibration",
    "white_box_rejection_calibrator": "calibration",
    # diagnosis
    "ANCHOR_STREAM": "diagnosis",
    "Report": "diagnosis",
    "SAMPLE_STREAM": "diagnosis",
    "DiagnoseConfig": "diagnosis",
    "diagnose": "diagnosis",
    "diagnose_embeddings": "diagnosis",
    "reduce_shard": "diagnosis",
    "summarize": "diagnosis",
    # diagnosis.distributed
    "diagnose_distributed": "diagnosis.distributed",
    "shard_task": "diagnosis.distributed",
    # distance
    "angular_distance": "distance",
    "cos_threshold": "distance",
    "similarity": "distance",
    "unit": "distance",
    "validate_unit": "distance",
    # metrics
    "EfficientNetLite0Features": "metrics",
    "FRECHET_EFFNET_NAME": "metrics",
    "METRICS": "metrics",
    "PRDC": "metrics",
    "birthday_test": "metrics",
    "compute_metrics": "metrics",
    "detection_power": "metrics",
    "frechet_distance": "metrics",
    "frechet_distance_from_moments": "metrics",
    "gaussian_moments": "metrics",
    "inception_score_analogue": "metrics",
    "kernel_distance": "metrics",
    "mean_pairwise_ms_ssim": "metrics",
    "mean_pairwise_ssim": "metrics",
    "ndb_test": "metrics",
    "prdc_scores": "metrics",
    "vendi_score": "metrics",
    "worst_mode_mccs": "metrics",
    # neighbors
    "AnchorScope": "neighbors",
    "NeighborStats": "neighbors",
    "PAPER_GRID": "neighbors",
    "error_band": "neighbors",
    "neighbor_stats": "neighbors",
    # stats
    "AnchorPlan": "stats",
    "BootstrapCI": "stats",
    "DenseModes": "stats",
    "GlobalEnvelopeTest": "stats",
    "MCCS_FORMS": "stats",
    "PointwiseBand": "stats",
    "Population": "stats",
    "PopulationCI": "stats",
    "SamplePlan": "stats",
    "ThetaR": "stats",
    "WorstCase": "stats",
    "anchors_needed": "stats",
    "bootstrap_mccs": "stats",
    "bootstrap_population": "stats",
    "choose_theta_r": "stats",
    "dense_modes": "stats",
    "distinct_modes": "stats",
    "global_envelope_test": "stats",
    "mccs": "stats",
    "neighbor_counts": "stats",
    "mccs_standard_error": "stats",
    "min_reference_curves": "stats",
    "neighbor_curves": "stats",
    "null_worst_case_curves": "stats",
    "pointwise_band": "stats",
    "population": "stats",
    "worst_index": "stats",
    "samples_needed": "stats",
    "similarity_contributions": "stats",
    "worst_case_curves": "stats",
    "worst_case_test": "stats",
    # store
    "EmbeddingStore": "store",
    "StoreConfigError": "store",
    "StoreError": "store",
    "embed_shard": "store",
    "shard_sizes": "store",
}

#: Modules reachable as attributes (``from bbcollapse import adapters``), kept for old callers.
_MODULES: dict[str, str] = {
    "adapters": "blackbox.adapters",
    "blackbox": "blackbox",
    "calibration": "calibration",
    "diagnosis": "diagnosis",
    "distributed": "diagnosis.distributed",
    "engine": "neighbors.engine",
    "hypothesis": "stats",
    "metrics": "metrics",
    "neighbors": "neighbors",
    "stats": "stats",
    "store": "store",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    else:
        raise AttributeError(f"module 'bbcollapse' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | set(_MODULES))


_EAGER = {name for name in globals() if not name.startswith("_")} - {"annotations", "importlib"}
__all__ = sorted(set(_PUBLIC) | _EAGER)
