"""The lab's data: the Fashion-MNIST loader (published facts, corrupt files) and the dataset builders.

References: the published layout of Fashion-MNIST (60,000 / 10,000 items, 6,000 / 1,000 per
class, the first training labels 9 0 0 3 0 2 7 2 5 5 from Zalando's README), brute-force float64
checks of the de-duplication, and planted duplicates of known number.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.lab import DataSpec, build_dataset, fashion_mnist_dir, load_fashion_mnist, remove_near_duplicates
from bbcollapse.lab.data import FILES
from bbcollapse.lab.datasets import class_counts

HAVE_DATA = all((fashion_mnist_dir() / f).is_file() for pair in FILES.values() for f in pair)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="Fashion-MNIST not installed (make setup, or FASHION_MNIST_DIR)")


# --------------------------------------------------------------------------- the loader
@needs_data
def test_loader_matches_the_published_layout():
    x, y = load_fashion_mnist("train")
    assert x.shape == (60_000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60_000,) and y.dtype == np.int64
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(y).tolist() == [6000] * 10
    xt, yt = load_fashion_mnist("test")
    assert xt.shape == (10_000, 28, 28) and np.bincount(yt).tolist() == [1000] * 10
    assert 0 < x.mean() < 255 and x.max() == 255 and x.min() == 0


def _write_idx(path, type_code, dims, payload: bytes):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + payload)


def _fake_dir(tmp_path, *, images_dims=(10_000, 28, 28), images_bytes=None, type_code=8, labels_max=9):
    """A test split in tmp_path with one planted defect; the labels file is valid unless labels_max > 9."""
    n_bytes = int(np.prod(images_dims)) if images_bytes is None else images_bytes
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", type_code, images_dims, bytes(n_bytes))
    labels = np.full(10_000, labels_max, dtype=np.uint8)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 8, (10_000,), labels.tobytes())
    return tmp_path


def test_loader_reads_a_valid_planted_split(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(_fake_dir(tmp_path)))
    x, y = load_fashion_mnist("test")
    assert x.shape == (10_000, 28, 28) and (y == 9).all()


@pytest.mark.parametrize(
    "defect, match",
    [
        ({"images_dims": (10_000, 28, 27)}, "shape"),
        ({"images_bytes": 10_000 * 784 - 5}, "truncated"),
        ({"type_code": 9}, "bad idx header"),
        ({"labels_max": 10}, "exceed 9"),
    ],
)
def test_loader_rejects_corrupt_files(tmp_path, monkeypatch, defect, match):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(_fake_dir(tmp_path, **defect)))
    with pytest.raises(ValueError, match=match):
        load_fashion_mnist("test")


def test_loader_missing_or_not_gzip(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="FASHION_MNIST_DIR"):
        load_fashion_mnist("test")
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="gzip"):
        load_fashion_mnist("test")
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")


# --------------------------------------------------------------------------- builders
@needs_data
def test_balanced_counts_determinism_and_nesting():
    a = build_dataset(DataSpec.balanced(20, seed=3))
    assert a.class_counts().tolist() == [20] * 10 and len(np.unique(a.indices)) == 200
    _, y = load_fashion_mnist("train")
    assert (y[a.indices] == a.labels).all()
    assert np.array_equal(a.indices, build_dataset(DataSpec.balanced(20, seed=3)).indices)
    assert not np.array_equal(a.indices, build_dataset(DataSpec.balanced(20, seed=4)).indices)
    small = build_dataset(DataSpec.balanced(7, seed=3))
    assert np.isin(small.indices, a.indices).all()  # a larger set extends a smaller one
    f = a.as_float()
    assert f.shape == (200, 1, 28, 28) and f.dtype == np.float32 and 0 <= f.min() and f.max() <= 1


def test_class_counts_largest_remainder():
    p = [0.3, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    for n in (1, 7, 99, 1000, 1234):
        c = class_counts(p, n)
        assert c.sum() == n and (np.abs(c - np.asarray(p) * n) < 1).all()
    assert class_counts([1] * 10, 13).tolist() == [2, 2, 2] + [1] * 7  # ties go to the lower classes


@needs_data
def test_imbalanced_follows_proportions():
    p = [10, 5, 5, 2, 2, 1, 1, 1, 1, 1]
    d = build_dataset(DataSpec.imbalanced(p, 290, seed=1))
    assert d.class_counts().tolist() == [100, 50, 50, 20, 20, 10, 10, 10, 10, 10]
    with pytest.raises(ValueError, match="items of one class"):
        DataSpec.imbalanced([1] + [0] * 9, 7000)


@needs_data
def test_aug_repeats_chosen_items():
    d = build_dataset(DataSpec.aug(15, classes=(0, 3, 7), repeats=50, seed=2))
    assert len(d) == 150 + 3 * 49 and len(d.repeated) == 3
    _, y = load_fashion_mnist("train")
    assert y[d.repeated].tolist() == [0, 3, 7]
    for row in d.repeated:
        assert (d.indices == row).sum() == 50
    base = build_dataset(DataSpec.balanced(15, seed=2))
    assert np.array_equal(np.unique(d.indices), base.indices)  # the aug set is the balanced set plus copies


# --------------------------------------------------------------------------- de-duplication
def test_remove_near_duplicates_against_brute_force(rng):
    e = bb.unit(rng.standard_normal((300, 8)))
    r = 0.3
    kept = remove_near_duplicates(e, r, seed=5)
    d = bb.angular_distance(e, e)  # float64 brute force
    sub = d[np.ix_(kept, kept)]
    assert (sub[~np.eye(len(kept), dtype=bool)] > r).all()  # kept items are pairwise distinct
    removed = np.setdiff1d(np.arange(300), kept)
    assert (d[np.ix_(removed, kept)] <= r).any(axis=1).all()  # every removed item has a kept neighbour
    assert 0 < len(kept) < 300
    assert np.array_equal(kept, remove_near_duplicates(e, r, seed=5))
    assert not np.array_equal(kept, remove_near_duplicates(e, r, seed=6))


def test_remove_near_duplicates_planted_copies(rng):
    centres = bb.unit(rng.standard_normal((40, 16)))
    copies = np.repeat(centres, rng.integers(1, 6, size=40), axis=0)
    noisy = bb.unit(copies + 1e-4 * rng.standard_normal(copies.shape))
    kept = remove_near_duplicates(noisy, 0.02, seed=0)
    assert len(kept) == 40  # exactly one item per planted identity


class PixelDescriptor:
    """Unit-normalised centred pixels: a stand-in instance descriptor for the dedup builder."""

    identity = "test:pixels"

    def __call__(self, x):
        v = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return bb.unit(v - v.mean(axis=1, keepdims=True))


@needs_data
def test_dedup_builder_checks_the_descriptor():
    embed = PixelDescriptor()
    spec = DataSpec.dedup(30, radius=0.2, descriptor=bb.identity_of(embed), seed=0)
    d = build_dataset(spec, embed=embed)
    base = build_dataset(DataSpec.balanced(30, seed=0))
    assert 0 < len(d) < len(base) and np.isin(d.indices, base.indices).all()
    e = embed(d.as_float())
    dist = bb.angular_distance(e, e)
    assert (dist[~np.eye(len(d), dtype=bool)] > 0.2).all()
    with pytest.raises(ValueError, match="needs embed"):
        build_dataset(spec)
    with pytest.raises(ValueError, match="not the one the DataSpec names"):
        build_dataset(DataSpec.dedup(30, 0.2, descriptor="another"), embed=embed)


def test_dataspec_validation():
    with pytest.raises(ValueError, match="kind"):
        DataSpec("subset")
    with pytest.raises(ValueError, match="per_class"):
        DataSpec.balanced(6001)
    with pytest.raises(ValueError, match="classes"):
        DataSpec.aug(10, classes=(1, 1), repeats=3)
    with pytest.raises(ValueError, match="proportions"):
        DataSpec.imbalanced([1, 2], 10)
    with pytest.raises(ValueError, match="radius"):
        DataSpec.dedup(10, radius=1.5, descriptor="x")
    spec = DataSpec.aug(10, classes=(2, 5), repeats=4, seed=9)
    assert DataSpec.from_dict(spec.to_dict()) == spec
