"""Sample-size planning (stats.planning) against a closed form and planted truth."""

from __future__ import annotations

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.subjects.synthetic import PlantedSphere

THETA = 0.3


def test_samples_needed_meets_requested_precision():
    world = PlantedSphere(dim=12, masses=(0.05,), spread=0.12, centres_seed=2)
    anchor = world.centres[0]
    truth = bb.mccs(world.mean_similarity(anchor, THETA))
    plan = bb.samples_needed(bb.similarity_contributions(anchor, world(1, 2000).x, THETA), half_width=0.02)
    estimates = [
        bb.mccs(bb.similarity_contributions(anchor, world(100 + i, plan.n_samples).x, THETA).mean()) for i in range(150)
    ]
    within = np.mean(np.abs(np.asarray(estimates) - truth) <= 0.02)
    assert 0.88 <= within <= 0.995, (plan, within)


def test_anchors_needed_closed_form():
    v = np.array([0.3, 0.4, 0.5, 0.4])  # sigma = sqrt(0.02/3), m4 = 0.0002/4
    plan = bb.anchors_needed(v, mu_half_width=0.01, sigma_half_width=0.01, level=0.95)
    z = 1.959963984540054
    sigma2 = 0.02 / 3
    assert plan.n_anchors_mu == int(np.ceil(z * z * sigma2 / 0.01**2))
    assert plan.n_anchors_sigma == int(np.ceil(z * z * (0.0002 / 4 - sigma2**2) / (4 * sigma2 * 0.01**2)))
    with pytest.raises(ValueError, match="mu_half_width and/or sigma_half_width"):
        bb.anchors_needed(v)
