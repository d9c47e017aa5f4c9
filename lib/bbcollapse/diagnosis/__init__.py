"""Diagnosis: one configuration shared by the Python API, the CLI and Dask; the diagnosis of
embeddings or of a sampler; the Report and its figures."""
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__all__ = list(_core_all)
