"""Diagnosis (paper 000, section 3.1): one configuration shared by the Python API, the CLI and Dask;
the diagnosis of embeddings or of a sampler; the Report and its figures."""

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
    "Report",
    "diagnose",
    "diagnose_embeddings",
    "embed_set",
    "reduce_shard",
    "shard_plan",
    "summarize",
]
