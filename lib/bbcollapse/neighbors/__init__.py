"""The neighbour engine: anchors A x samples C -> :class:`NeighborStats` in one streaming pass.

Layers, leaves first: ``stats`` (the result type and its merge), ``plan`` (thresholds of
one run), ``tables`` (lookup tables), the reducers (``torch_reducer``, portable;
``numba_reducer``, the fused CPU kernel), the plan-aware path (``prefilter``, the bf16 GEMM's
error bound; ``sparse_kernel`` and ``plan_reducer``, thresholded reduction of anchors that need
no curve), and ``engine`` (:func:`neighbor_stats`).
"""

from .engine import default_device, make_reducer, neighbor_stats
from .plan import Plan
from .prefilter import bf16_error_bound
from .stats import PAPER_GRID, AnchorScope, NeighborStats, error_band, merge_topk

__all__ = [
    "AnchorScope",
    "NeighborStats",
    "bf16_error_bound",
    "PAPER_GRID",
    "Plan",
    "default_device",
    "error_band",
    "make_reducer",
    "merge_topk",
    "neighbor_stats",
]
