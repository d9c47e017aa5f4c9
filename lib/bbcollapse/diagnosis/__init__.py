"""Diagnosis (paper 000, section 3.1): one configuration shared by the Python API, the CLI and Dask;
the diagnosis of embeddings or of a sampler (selected on S, scored on a fresh T); the Report and its
figures; a model before and after calibration compared on fresh pools (section 4.4)."""

from .compare import ModelComparison, compare_models, evaluate_calibration, frechet_comparison
from .config import DiagnoseConfig
from .core import (
    ANCHOR_STREAM,
    SAMPLE_STREAM,
    diagnose,
    diagnose_embeddings,
    embed_set,
    reduce_shard,
    shard_plan,
    summarize,
)
from .report import Report

__all__ = [
    "ANCHOR_STREAM",
    "SAMPLE_STREAM",
    "DiagnoseConfig",
    "ModelComparison",
    "Report",
    "compare_models",
    "diagnose",
    "diagnose_embeddings",
    "embed_set",
    "evaluate_calibration",
    "frechet_comparison",
    "reduce_shard",
    "shard_plan",
    "summarize",
]
