"""Statistics over NeighborStats: MCCS (Eq. 7) and its population (Eq. 8), dense modes (Eq. 9),
neighbour-function envelopes and tests, worst-case selection, bootstrap intervals and planning."""
from .hypothesis import *  # noqa: F401,F403
from .hypothesis import __all__ as _hypothesis_all
from .mccs import *  # noqa: F401,F403
from .mccs import __all__ as _mccs_all

__all__ = [*_mccs_all, *_hypothesis_all]
