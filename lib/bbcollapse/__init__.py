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


def _lazy_module(mod):
    """Import one lazy module, or None if it is not part of this installation."""
    try:
        return importlib.import_module(f".{mod}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{mod}":
            return None
        raise


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _LAZY_MODULES:  # `from bbcollapse import adapters` imports only that module
        module = _lazy_module(name)
        if module is None:
            raise AttributeError(f"module 'bbcollapse' has no attribute {name!r}")
        return module
    for mod in _LAZY_MODULES:  # stop at the first module that exports the name
        module = _lazy_module(mod)
        if module is not None and name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'bbcollapse' has no attribute {name!r}")


def __dir__():
    names = set(globals())
    for mod in _LAZY_MODULES:
        module = _lazy_module(mod)
        if module is not None:
            names |= set(getattr(module, "__all__", ()))
    return sorted(names)
