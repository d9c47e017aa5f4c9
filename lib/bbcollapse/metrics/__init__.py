"""Sample-quality metrics on named features (Fréchet distance, PRDC), as the peers of MCCS."""
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__all__ = list(_core_all)
