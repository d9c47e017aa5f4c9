"""Planted duplicates (counts, distinct sources and views) and the truncated normal against scipy's truncnorm."""

import numpy as np
import pytest
from scipy import stats

from bbcollapse.metrics import plant_duplicates, truncated_normal


def test_planted_duplicates_have_the_asked_shape():
    p = plant_duplicates(pool_size=1000, n=200, fraction=0.1, n_sources=4, bank_size=30, seed=2)
    assert len(p.keep) == 180 and p.n_duplicates == 20 and len(np.unique(p.keep)) == 180
    assert len(np.unique(p.source)) == 4 and np.bincount(p.source)[np.unique(p.source)].tolist() == [5] * 4
    assert (p.view == -1).all() and p.keep.max() < 1000 and p.source.max() < 30
    j = plant_duplicates(pool_size=1000, n=200, fraction=0.2, n_sources=4, bank_size=30, n_views=8, seed=2)
    for s in np.unique(j.source):  # 10 copies of each source: all 8 views, then 2 more
        v = j.view[j.source == s]
        assert len(v) == 10 and len(np.unique(v)) == 8 and v.max() < 8
    none = plant_duplicates(pool_size=300, n=200, fraction=0.0, n_sources=4, bank_size=30, seed=0)
    assert none.n_duplicates == 0 and len(none.keep) == 200
    with pytest.raises(ValueError, match="pool_size"):
        plant_duplicates(pool_size=100, n=200, fraction=0.1, n_sources=4, bank_size=30)
    with pytest.raises(ValueError, match="fraction"):
        plant_duplicates(pool_size=1000, n=200, fraction=1.0, n_sources=4, bank_size=30)


def test_truncated_normal_against_scipy_truncnorm():
    z = truncated_normal(0, 20_000, 3, 1.0)
    assert z.dtype == np.float32 and np.abs(z).max() <= 1.0
    ks = stats.kstest(z[:, 0].astype(float), stats.truncnorm(-1.0, 1.0).cdf)
    assert ks.pvalue > 0.01
    assert z.std() == pytest.approx(stats.truncnorm(-1.0, 1.0).std(), rel=0.02)
    # no truncation: exactly the generator's own draw
    assert np.array_equal(
        truncated_normal(5, 4, 100, np.inf), np.random.default_rng(5).standard_normal((4, 100)).astype(np.float32)
    )
    with pytest.raises(ValueError, match="psi"):
        truncated_normal(0, 2, 2, 0.0)
