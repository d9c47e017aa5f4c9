"""The worst case and its selection-aware test (stats.worst_case), against brute force and simulated levels."""

from __future__ import annotations

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.subjects.synthetic import PlantedSphere


def brute_distances(x, y):
    """float64 normalised angular distances arccos(<x, y>) / pi, (len(x), len(y))."""
    cos = np.asarray(x, np.float64) @ np.asarray(y, np.float64).T
    return np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi


@pytest.mark.parametrize("selection", ["anchors", "samples"])
def test_worst_case_curves_match_brute_force(selection):
    world = PlantedSphere(dim=6, masses=(0.2, 0.1), spread=0.15, centres_seed=8)
    anchors, samples = world(1, 90).x.astype(np.float64), world(2, 1200).x.astype(np.float64)
    grid = np.round(np.arange(10, 51, 5) / 100, 2)
    d_anchor, d_curve = brute_distances(anchors, anchors), brute_distances(anchors, samples)
    for d in (d_anchor, d_curve):
        assert np.abs(d[:, :, None] - np.append(grid, 0.25)[None, None, :]).min() > 1e-9  # no pair on a threshold
    if selection == "anchors":  # counted inside the anchors, self excluded
        counts = (d_anchor <= 0.25).sum(axis=1) - 1
    else:
        counts = (d_curve <= 0.25).sum(axis=1)
    worst = max(range(90), key=lambda i: (counts[i], -i))  # argmax, the lowest index on ties
    wc = bb.worst_case_curves(anchors, samples, r=0.25, n_ref=30, grid=grid, selection=selection, seed=4)
    curves = (d_curve[:, :, None] <= grid[None, None, :]).sum(axis=1)
    assert wc.worst == worst and wc.count == counts[worst]
    np.testing.assert_array_equal(wc.curve, curves[worst])
    assert worst not in wc.ref_index and len(set(wc.ref_index.tolist())) == 30
    np.testing.assert_array_equal(wc.ref_curves, curves[wc.ref_index])


def test_worst_case_calibrated_by_null_worlds():
    # Selection on the same samples as the curves (paper 000 / the authors' code): in a world
    # with no collapse the naive test against random anchors rejects far too often, while the
    # selection-aware test (null worlds' worst cases) keeps its level; planted collapse is found.
    dim, m, n, r = 10, 80, 800, 0.25
    null = PlantedSphere(dim=dim, masses=())
    bank = bb.null_worst_case_curves(null, n_anchors=m, n_samples=n, n_worlds=59, r=r, selection="samples", seed=7)
    assert bank.shape == (59, len(bb.PAPER_GRID))
    naive = calibrated = power = 0
    reps = 40
    for i in range(reps):
        wc = bb.worst_case_curves(null(100 + 2 * i, m).x, null(101 + 2 * i, n).x, r=r, n_ref=59, selection="samples")
        naive += bb.global_envelope_test(wc.curve, wc.ref_curves, kind="erl", alternative="greater").reject
        calibrated += bb.worst_case_test(wc, bank, kind="erl").reject
        world = PlantedSphere(dim=dim, masses=(0.05,), spread=0.12, centres_seed=i)
        wc = bb.worst_case_curves(world(200 + 2 * i, m).x, world(201 + 2 * i, n).x, r=r, selection="samples")
        power += bb.worst_case_test(wc, bank, kind="erl").reject
    assert naive / reps >= 0.5, naive
    assert calibrated / reps <= 0.15, calibrated
    assert power / reps >= 0.8, power
