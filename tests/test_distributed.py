"""The Dask run gives the same diagnosis as the single-process run."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from bbcollapse.blackbox import identity_descriptor  # noqa: E402
from bbcollapse.diagnosis import diagnose  # noqa: E402
from bbcollapse.diagnosis.distributed import diagnose_distributed  # noqa: E402
from bbcollapse.subjects.synthetic import PlantedSphere  # noqa: E402

PS = PlantedSphere(dim=16, masses=(0.06, 0.03), spread=0.12, centres_seed=1)
KW = dict(n_anchors=150, n_samples=2600, seed=5, theta=0.3, r=0.25, top=3, k=6, shard_size=400)


def test_dask_localcluster_matches_single_process():
    local = diagnose(PS, identity_descriptor, progress=False, **KW)
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, worker_dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            remote = diagnose_distributed(PS, identity_descriptor, client=client, max_in_flight=3, **KW)
            workers_used = len(client.nthreads())
    assert workers_used == 2
    np.testing.assert_array_equal(remote.counts, local.counts)
    np.testing.assert_array_equal(remote.mode_curves, local.mode_curves)
    np.testing.assert_array_equal(remote.random_curves, local.random_curves)
    np.testing.assert_array_equal(remote.nearest_index, local.nearest_index)
    np.testing.assert_array_equal(remote.nearest_dist, local.nearest_dist)
    np.testing.assert_array_equal(remote.modes, local.modes)
    assert remote.worst == local.worst
    # similarity sums are added in another order: equal to rounding
    np.testing.assert_allclose(remote.mccs, local.mccs, rtol=1e-12, atol=0)
    assert remote.mu == pytest.approx(local.mu, rel=1e-12)
    assert remote.sigma == pytest.approx(local.sigma, rel=1e-12)
    assert remote.config == local.config and remote.sampler == local.sampler
