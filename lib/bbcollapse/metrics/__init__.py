"""Sample-quality and diversity metrics on named features, the peers of MCCS the book compares with.

Each metric is a function with arrays in and a small frozen result out, whose ``name`` says the
features it was computed on (no Inception or LPIPS weights run here, so no result is called "FID",
"KID" or "IS" alone):

* :mod:`.frechet`: Fréchet distance between Gaussians fitted to named features;
* :mod:`.kernel`: KID's unbiased MMD^2 (cubic polynomial kernel) with a jackknife standard error;
* :mod:`.prdc`: precision, recall, density and coverage (Naeem et al. 2020, the ``prdc`` package);
* :mod:`.vendi`: the Vendi score (``vendi-score``; dual form for large n);
* :mod:`.similarity`: mean SSIM and MS-SSIM over random pairs of images (``pytorch-msssim``);
* :mod:`.birthday`: the birthday-paradox test and its support-size estimate;
* :mod:`.ndb`: NDB, K-means bins with a two-proportion z test per bin;
* :mod:`.classifier`: the Inception Score formula on a named classifier's probabilities;
* :mod:`.mccs_metric`: MCCS(I_w) selected on S and scored on T, and (mu, sigma), as one more metric;
* :mod:`.features`: EfficientNet-lite0 ImageNet features (1280-D) and the feature-matrix check;
* :mod:`.result`: :class:`MetricResult`, what every result shares (``name``, ``as_dict``);
* :mod:`.registry`: :func:`compute_metrics` by name (the hook ``diagnose`` calls) and scalar read-outs;
* :mod:`.collapse` and :mod:`.power`: collapse of controlled strength, and detection power from
  replicate draws (the metrics chapter).
"""

from .birthday import BirthdayTest, birthday_test, collision_probability
from .classifier import ClassifierScore, inception_score_analogue
from .collapse import PlantedDuplicates, gather_planted, plant_duplicates
from .features import EfficientNetLite0Features, check_features
from .frechet import (
    FRECHET_EFFNET_NAME,
    FrechetDistance,
    frechet_distance,
    frechet_distance_from_moments,
    gaussian_moments,
)
from .kernel import KernelDistance, kernel_distance, polynomial_kernel
from .mccs_metric import WorstModeMCCS, worst_mode_mccs
from .ndb import NDB, assign_bins, ndb_bins, ndb_test, two_proportion_z
from .power import (
    DetectionPower,
    detection_power,
    effect_per_unit,
    monte_carlo_p_values,
    power_table,
    replicate_values,
    standardized_effect,
)
from .prdc import PRDC, prdc_scores
from .registry import COLLAPSE_DIRECTION, METRICS, compute_metrics, metric_readouts
from .result import MetricResult
from .similarity import MS_SSIM_WEIGHTS, PairwiseSimilarity, mean_pairwise_ms_ssim, mean_pairwise_ssim, random_pairs
from .vendi import VendiScore, vendi_score

__all__ = [
    "BirthdayTest",
    "COLLAPSE_DIRECTION",
    "ClassifierScore",
    "DetectionPower",
    "EfficientNetLite0Features",
    "FRECHET_EFFNET_NAME",
    "FrechetDistance",
    "KernelDistance",
    "METRICS",
    "MetricResult",
    "MS_SSIM_WEIGHTS",
    "NDB",
    "PRDC",
    "PairwiseSimilarity",
    "PlantedDuplicates",
    "VendiScore",
    "WorstModeMCCS",
    "assign_bins",
    "birthday_test",
    "check_features",
    "collision_probability",
    "compute_metrics",
    "detection_power",
    "effect_per_unit",
    "frechet_distance",
    "frechet_distance_from_moments",
    "gather_planted",
    "gaussian_moments",
    "inception_score_analogue",
    "kernel_distance",
    "mean_pairwise_ms_ssim",
    "mean_pairwise_ssim",
    "metric_readouts",
    "monte_carlo_p_values",
    "ndb_bins",
    "ndb_test",
    "plant_duplicates",
    "power_table",
    "polynomial_kernel",
    "prdc_scores",
    "random_pairs",
    "replicate_values",
    "standardized_effect",
    "two_proportion_z",
    "vendi_score",
    "worst_mode_mccs",
]
