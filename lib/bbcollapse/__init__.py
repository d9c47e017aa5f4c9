"""bbcollapse: black-box diagnosis and calibration of intra-mode collapse.

A black box is anything that turns a seed into samples; every diagnosis is a
reduction over pairs of embeddings (see :func:`neighbor_stats`).

The core (distances, the neighbour engine, MCCS, protocols) is imported eagerly;
the other modules are imported on first use of one of their public names (each
module lists them in ``__all__``), so ``import bbcollapse`` stays light.
"""
from __future__ import annotations

import importlib

from .blackbox import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .mccs import *  # noqa: F401,F403

__version__ = "0.1.0"

# Modules whose public names (their __all__) are exposed lazily at package level.
_LAZY_MODULES = ("hypothesis", "store", "adapters", "diagnosis", "calibration", "metrics", "distributed")


def _lazy_index():
    index = {}
    for mod in _LAZY_MODULES:
        try:
            module = importlib.import_module(f".{mod}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{mod}":
                continue  # module not written (yet)
            raise
        for name in getattr(module, "__all__", ()):
            index[name] = module
    return index


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    module = _lazy_index().get(name)
    if module is None:
        raise AttributeError(f"module 'bbcollapse' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_lazy_index()))
