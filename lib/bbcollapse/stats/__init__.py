"""Statistics over neighbour counts and similarities (paper 000, section 3; seed 001, Algorithm 1).

One module per concern, each importing only those before it:

* ``mccs``: MCCS (Eq. 7) in its two forms, always finite (the degenerate-anchor rule), and the
  population statistics (mu, sigma) (Eq. 8);
* ``modes``: neighbour counts N(I', C, r), the worst case I_w (Eq. 9, the one tie rule) and
  the distinct dense modes;
* ``envelope``: neighbour curves, the paper's pointwise band and global envelope tests;
* ``worst_case``: I_w with its curve and reference curves, null worlds, the selection-aware test;
* ``bootstrap``: intervals for MCCS(I') and for (mu, sigma), and two-sample comparisons of them;
* ``planning``: how many samples and anchors a target precision needs;
* ``thresholds``: theta (Eq. 3) and r (Eq. 5) for a descriptor, by the one documented rule.
"""

from .bootstrap import (
    BootstrapCI,
    Contributions,
    Difference,
    PopulationCI,
    bootstrap_mccs,
    bootstrap_population,
    compare_mccs,
    compare_population,
    compare_replicates,
    similarity_contributions,
    similarity_matrix,
)
from .envelope import (
    GlobalEnvelopeTest,
    PointwiseBand,
    global_envelope_test,
    min_reference_curves,
    neighbor_curves,
    pointwise_band,
)
from .mccs import DEGENERATE_TOL, MCCS_CODE_CAP, MCCS_FORMS, Population, degenerate, mccs, population
from .modes import DenseModes, dense_modes, density_order, distinct_modes, neighbor_counts, worst_index
from .planning import AnchorPlan, SamplePlan, anchors_needed, mccs_standard_error, pilot_moments, samples_needed
from .thresholds import ThetaR, choose_theta_r, equal_error, separation
from .worst_case import WorstCase, null_worst_case_curves, worst_case_curves, worst_case_test

__all__ = [
    "AnchorPlan",
    "BootstrapCI",
    "Contributions",
    "DEGENERATE_TOL",
    "Difference",
    "DenseModes",
    "GlobalEnvelopeTest",
    "MCCS_CODE_CAP",
    "MCCS_FORMS",
    "PointwiseBand",
    "Population",
    "PopulationCI",
    "SamplePlan",
    "ThetaR",
    "WorstCase",
    "anchors_needed",
    "bootstrap_mccs",
    "bootstrap_population",
    "choose_theta_r",
    "compare_mccs",
    "compare_population",
    "compare_replicates",
    "degenerate",
    "dense_modes",
    "density_order",
    "distinct_modes",
    "equal_error",
    "global_envelope_test",
    "mccs",
    "mccs_standard_error",
    "min_reference_curves",
    "neighbor_counts",
    "neighbor_curves",
    "null_worst_case_curves",
    "pointwise_band",
    "population",
    "pilot_moments",
    "samples_needed",
    "separation",
    "similarity_contributions",
    "similarity_matrix",
    "worst_case_curves",
    "worst_case_test",
    "worst_index",
]
