"""Calibration without retraining: Algorithm 1 (cluster weights: GMM, Voronoi), Algorithm 2
(rejection, latent regions), importance weights and the white-box variants.  Every calibrator
returns a new Sampler, diagnosed by the same pipeline."""
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__all__ = list(_core_all)
