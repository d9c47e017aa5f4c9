"""Bad input raises errors that name the argument and what was expected."""

import numpy as np
import pytest

import bbcollapse as bb
from helpers import rand_unit


@pytest.fixture
def ok(rng):
    return rand_unit(rng, 5, 4), rand_unit(rng, 20, 4)


def test_nan_and_inf(ok):
    a, c = ok
    bad = c.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="samples contains NaN or inf"):
        bb.neighbor_stats(anchors=a, samples=bad, radii=(0.2,))
    bad = a.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="anchors contains NaN or inf"):
        bb.neighbor_stats(anchors=bad, samples=c, radii=(0.2,))


def test_dimension_mismatch(ok, rng):
    a, _ = ok
    with pytest.raises(ValueError, match="samples has dimension 5 but the anchors have dimension 4"):
        bb.neighbor_stats(anchors=a, samples=rand_unit(rng, 10, 5), radii=(0.2,))
    with pytest.raises(ValueError, match=r"anchors must be a 2-D array"):
        bb.neighbor_stats(anchors=a[0], samples=a, radii=(0.2,))


def test_zero_and_non_unit_vectors(ok):
    a, c = ok
    z = c.copy()
    z[2] = 0
    with pytest.raises(ValueError, match="samples contains zero vectors"):
        bb.neighbor_stats(anchors=a, samples=z, radii=(0.2,))
    with pytest.raises(ValueError, match="anchors must be unit vectors.*bbcollapse.unit"):
        bb.neighbor_stats(anchors=2 * a, samples=c, radii=(0.2,))
    # the documented fix works
    bb.neighbor_stats(anchors=bb.unit(2 * a), samples=c, radii=(0.2,))


def test_empty_inputs(ok):
    a, c = ok
    with pytest.raises(ValueError, match="anchors is empty"):
        bb.neighbor_stats(anchors=a[:0], samples=c, radii=(0.2,))
    with pytest.raises(ValueError, match="samples is empty"):
        bb.neighbor_stats(anchors=a, samples=c[:0], radii=(0.2,))
    with pytest.raises(ValueError, match="samples is empty"):
        bb.neighbor_stats(anchors=a, samples=iter([]), radii=(0.2,))


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(radii=(1.2,)), r"radii must lie in \[0, 1\]"),
        (dict(radii=(-0.1,)), r"radii must lie in \[0, 1\]"),
        (dict(grid=[0.1, 1.5]), r"grid must lie in \[0, 1\]"),
        (dict(theta=0.0), r"theta must be a float in \(0, 1\]"),
        (dict(theta=-0.3), r"theta must be a float in \(0, 1\]"),
        (dict(k=-1), "k must be a non-negative integer"),
        (dict(backend="cuda-magic"), "backend must be"),
    ],
)
def test_bad_parameters(ok, kw, msg):
    a, c = ok
    with pytest.raises(ValueError, match=msg):
        bb.neighbor_stats(anchors=a, samples=c, **kw)


def test_similarity_and_modes_validate(ok):
    a, c = ok
    with pytest.raises(ValueError, match="theta"):
        bb.similarity(0.1, 0)
    with pytest.raises(ValueError, match="counts must have shape"):
        bb.distinct_modes(a, np.zeros(3), r=0.2)
    with pytest.raises(ValueError, match=r"r must lie in \[0, 1\]"):
        bb.distinct_modes(a, np.zeros(5), r=2)
