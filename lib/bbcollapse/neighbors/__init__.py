"""The neighbour engine: anchors A x samples C -> :class:`NeighborStats` in one streaming pass.

Layers, leaves first: ``stats`` (the result type and its merge), ``plan`` (thresholds of
one run), ``tables`` (lookup tables), the reducers (``torch_reducer``, portable;
``numba_reducer``, the fused CPU kernel), and ``engine`` (:func:`neighbor_stats`).
"""

from .engine import default_device, make_reducer, neighbor_stats
from .plan import Plan
from .stats import PAPER_GRID, NeighborStats, error_band, merge_topk

__all__ = [
    "NeighborStats",
    "PAPER_GRID",
    "Plan",
    "default_device",
    "error_band",
    "make_reducer",
    "merge_topk",
    "neighbor_stats",
]
