"""Planted duplicates: counts, distinct sources and views, and the assembled sets."""

import numpy as np
import pytest

from bbcollapse.metrics import gather_planted, plant_duplicates


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


def test_gather_planted_assembles_rows_in_order(rng):
    pool = {"f": rng.standard_normal((50, 3)), "img": rng.integers(0, 255, (50, 4, 4), dtype=np.uint8)}
    src = {"f": rng.standard_normal((6, 3)), "img": rng.integers(0, 255, (6, 4, 4), dtype=np.uint8)}
    views = {"f": rng.standard_normal((6, 5, 3)), "img": rng.integers(0, 255, (6, 5, 4, 4), dtype=np.uint8)}
    p = plant_duplicates(pool_size=50, n=20, fraction=0.25, n_sources=2, bank_size=6, seed=1)
    got = gather_planted(p, pool=pool, sources=src)
    for k in pool:
        assert got[k].shape[0] == 20 and got[k].dtype == pool[k].dtype
        assert np.array_equal(got[k][:15], pool[k][p.keep]) and np.array_equal(got[k][15:], src[k][p.source])
    j = plant_duplicates(pool_size=50, n=20, fraction=0.25, n_sources=2, bank_size=6, n_views=5, seed=1)
    got = gather_planted(j, pool=pool, sources=src, views=views)
    for i, (s, v) in enumerate(zip(j.source, j.view)):
        assert np.array_equal(got["f"][15 + i], views["f"][s, v])
    with pytest.raises(ValueError, match="views"):
        gather_planted(j, pool=pool, sources=src)
