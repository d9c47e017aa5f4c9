"""Sample-quality metrics on named features, the peers of MCCS the book compares with.

* :mod:`.frechet`: Fréchet distance between Gaussians fitted to named features (FID only when
  the features are Inception's; the book names them, e.g. EfficientNet-lite0);
* :mod:`.features`: EfficientNet-lite0 ImageNet features (1280-D) and the feature-matrix check;
* :mod:`.prdc`: precision, recall, density and coverage (Naeem et al. 2020).
"""

from .features import EfficientNetLite0Features, check_features
from .frechet import FRECHET_EFFNET_NAME, frechet_distance, frechet_distance_from_moments, gaussian_moments
from .prdc import PRDC, prdc_scores

__all__ = [
    "frechet_distance",
    "frechet_distance_from_moments",
    "gaussian_moments",
    "EfficientNetLite0Features",
    "PRDC",
    "prdc_scores",
    "FRECHET_EFFNET_NAME",
    "check_features",
]
