"""Training sets for the lab's experiments, each a pure function of a frozen spec and its seed.

The paper's cause studies vary the data one factor at a time (paper 000, §4.2 and §4.3.2):

* **balanced** -- the same number of items from every class (the FFHQ-like reference);
* **imbalanced** -- class counts in given proportions (the CelebAHQ-like case, Table 2);
* **aug** -- a balanced set plus chosen items repeated (the RIC-aug recipe of §4.2: three
  identities, one per chosen class, each present 1,000 times);
* **dedup** -- a balanced set with near-duplicate items removed by the instance descriptor
  (the GRIC analogue of Table 2: identity de-duplication), greedy in a seeded order;
* **full** -- the whole training split.

Every set is drawn from the training split only (the test split stays a fresh reference).
Selection uses one seeded permutation per class, so a larger ``per_class`` extends a smaller one
with the same seed (nested sets), and balanced, imbalanced, aug and dedup sets with the same seed
share their items as far as their sizes allow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_option, check_positive
from ..blackbox.protocols import identity_of
from ..distance import cos_threshold, validate_unit
from .data import SIZES, load_fashion_mnist

__all__ = ["DATA_KINDS", "DataSpec", "LabDataset", "build_dataset", "remove_near_duplicates", "N_CLASSES"]

DATA_KINDS = ("full", "balanced", "imbalanced", "aug", "dedup")
N_CLASSES = 10
_PER_CLASS_MAX = SIZES["train"] // N_CLASSES  # 6,000 items of each class in the training split
# Sub-stream tags for shard_seed-like derivation with SeedSequence: one permutation per class, one
# choice of repeated item per class, one order for the greedy de-duplication.
_PERMUTE, _REPEAT, _DEDUP = 0, 1, 2


@dataclass(frozen=True)
class DataSpec:
    """Which training items a generator sees. Build with the class methods; fields not used by a kind stay 0/empty.

    Parameters
    ----------
    kind : one of ``DATA_KINDS``.
    per_class : items per class of the balanced base set (balanced, aug, dedup).
    proportions : 10 non-negative class weights, normalised to sum 1 (imbalanced).
    n : total items (imbalanced).
    classes : the classes whose chosen item is repeated (aug); one item per class.
    repeats : how many times each chosen item appears in the set in all (aug), its base copy included.
    radius : normalised angular distance under which two items are near-duplicates (dedup; ``d <= radius``).
    descriptor : ``bb.identity_of`` of the descriptor that embeds the items (dedup); the builder checks it.
    seed : the seed every choice derives from.
    """

    kind: str = "full"
    per_class: int = 0
    proportions: tuple[float, ...] = ()
    n: int = 0
    classes: tuple[int, ...] = ()
    repeats: int = 0
    radius: float = 0.0
    descriptor: str = ""
    seed: int = 0

    def __post_init__(self):
        check_option(self.kind, DATA_KINDS, "DataSpec.kind")
        check_int(self.seed, "DataSpec.seed")
        object.__setattr__(self, "proportions", tuple(float(p) for p in self.proportions))
        object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))
        if self.kind in ("balanced", "aug", "dedup"):
            check_int(self.per_class, "DataSpec.per_class", minimum=1)
            if self.per_class > _PER_CLASS_MAX:
                raise ValueError(f"DataSpec.per_class must be <= {_PER_CLASS_MAX}; got {self.per_class}")
        if self.kind == "imbalanced":
            _check_proportions(self.proportions, self.n)
        if self.kind == "aug":
            check_int(self.repeats, "DataSpec.repeats", minimum=1)
            if not self.classes or len(set(self.classes)) != len(self.classes):
                raise ValueError(f"DataSpec.classes must be distinct classes 0..9; got {self.classes}")
            if not all(0 <= c < N_CLASSES for c in self.classes):
                raise ValueError(f"DataSpec.classes must lie in 0..9; got {self.classes}")
        if self.kind == "dedup":
            check_positive(self.radius, "DataSpec.radius")
            if self.radius > 1 or not self.descriptor:
                raise ValueError(
                    "DataSpec.dedup needs a radius in (0, 1] and descriptor=bb.identity_of(<the descriptor>); "
                    f"got radius={self.radius!r}, descriptor={self.descriptor!r}"
                )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def full(cls) -> DataSpec:
        """The whole training split (60,000 items)."""
        return cls("full")

    @classmethod
    def balanced(cls, per_class: int, seed: int = 0) -> DataSpec:
        """``per_class`` items of each of the 10 classes."""
        return cls("balanced", per_class=per_class, seed=seed)

    @classmethod
    def imbalanced(cls, proportions, n: int, seed: int = 0) -> DataSpec:
        """``n`` items with class counts in ``proportions`` (10 weights; largest-remainder rounding)."""
        return cls("imbalanced", proportions=tuple(proportions), n=n, seed=seed)

    @classmethod
    def aug(cls, per_class: int, classes, repeats: int, seed: int = 0) -> DataSpec:
        """A balanced set in which one item of each class in ``classes`` appears ``repeats`` times in all."""
        return cls("aug", per_class=per_class, classes=tuple(classes), repeats=repeats, seed=seed)

    @classmethod
    def dedup(cls, per_class: int, radius: float, descriptor: str, seed: int = 0) -> DataSpec:
        """A balanced set with near-duplicates (``d <= radius`` under ``descriptor``) removed."""
        return cls("dedup", per_class=per_class, radius=float(radius), descriptor=str(descriptor), seed=seed)

    def to_dict(self) -> dict:
        """The spec as plain JSON values (the part of a generator's cache key that names its data)."""
        return {
            "kind": self.kind,
            "per_class": self.per_class,
            "proportions": list(self.proportions),
            "n": self.n,
            "classes": list(self.classes),
            "repeats": self.repeats,
            "radius": self.radius,
            "descriptor": self.descriptor,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict) -> DataSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _check_proportions(proportions, n):
    check_int(n, "DataSpec.n", minimum=1)
    p = np.asarray(proportions, dtype=np.float64)
    if p.shape != (N_CLASSES,) or not np.all(np.isfinite(p)) or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"DataSpec.proportions must be 10 non-negative weights with a positive sum; got {proportions}")
    counts = class_counts(p, n)
    if counts.max() > _PER_CLASS_MAX:
        raise ValueError(f"DataSpec.imbalanced asks {counts.max()} items of one class; the split has {_PER_CLASS_MAX}")


def class_counts(proportions, n: int) -> np.ndarray:
    """Integer class counts summing to ``n``, proportional to ``proportions`` (largest remainder)."""
    p = np.asarray(proportions, dtype=np.float64)
    exact = p / p.sum() * n
    counts = np.floor(exact).astype(np.int64)
    short = n - counts.sum()
    # Ties in the remainder go to the lower class index (stable sort), so the rule is deterministic.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


@dataclass(frozen=True, eq=False)
class LabDataset:
    """A training set: the items, their labels and where they come from in the training split.

    Attributes
    ----------
    spec : the DataSpec it was built from.
    images : uint8 (m, 28, 28), grey levels 0..255.
    labels : int64 (m,), classes 0..9.
    indices : int64 (m,), rows of the training split (a repeated item appears once per copy).
    repeated : int64 (k,), training-split rows of the repeated items (aug; empty otherwise).
    """

    spec: DataSpec
    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    repeated: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)

    def as_float(self) -> np.ndarray:
        """float32 (m, 1, 28, 28) in [0, 1]: the layout generated samples have (``LabSampler``)."""
        return (self.images.astype(np.float32) / 255.0)[:, None]

    def class_counts(self) -> np.ndarray:
        """int64 (10,): items per class (copies counted)."""
        return np.bincount(self.labels, minlength=N_CLASSES)

    def __repr__(self):
        counts = ", ".join(str(c) for c in self.class_counts())
        repeated = self.repeated.tolist()
        return f"LabDataset({self.spec.kind}, {len(self)} items, per class [{counts}], repeated={repeated})"


@functools.lru_cache(maxsize=1)
def _train_split() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_fashion_mnist("train")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _class_permutations(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    """For each class, its training-split rows in a seeded random order (one stream per class)."""
    return [
        np.random.default_rng([seed, _PERMUTE, c]).permutation(np.flatnonzero(labels == c)) for c in range(N_CLASSES)
    ]


def _take(perms: list[np.ndarray], counts) -> np.ndarray:
    return np.sort(np.concatenate([perms[c][: int(k)] for c, k in enumerate(counts)]))


def build_dataset(spec: DataSpec, embed=None) -> LabDataset:
    """Build the training set that ``spec`` names (deterministic from ``spec.seed``).

    Parameters
    ----------
    spec : DataSpec
    embed : callable float32 (m, 1, 28, 28) in [0, 1] -> (m, D) unit vectors; needed for ``dedup``
        only, and must be the descriptor the spec names (``bb.identity_of(embed) == spec.descriptor``).

    Returns
    -------
    LabDataset
    """
    if not isinstance(spec, DataSpec):
        raise TypeError(f"build_dataset takes a DataSpec; got {type(spec).__name__}")
    images, labels = _train_split()
    repeated = np.zeros(0, dtype=np.int64)
    if spec.kind == "full":
        rows = np.arange(len(labels), dtype=np.int64)
    else:
        perms = _class_permutations(labels, spec.seed)
        if spec.kind == "imbalanced":
            rows = _take(perms, class_counts(spec.proportions, spec.n))
        else:
            rows = _take(perms, [spec.per_class] * N_CLASSES)
        if spec.kind == "aug":
            repeated = np.array(
                [np.random.default_rng([spec.seed, _REPEAT, c]).choice(rows[labels[rows] == c]) for c in spec.classes],
                dtype=np.int64,
            )
            rows = np.sort(np.concatenate([rows, np.repeat(repeated, spec.repeats - 1)]))
        if spec.kind == "dedup":
            rows = _dedup_rows(spec, rows, images, embed)
    rows = rows.astype(np.int64)
    return LabDataset(spec, images[rows], labels[rows].astype(np.int64), rows, repeated)


def _dedup_rows(spec: DataSpec, rows: np.ndarray, images: np.ndarray, embed) -> np.ndarray:
    if embed is None:
        raise ValueError("DataSpec.dedup needs embed=<the descriptor named by the spec> to build the set")
    if identity_of(embed) != spec.descriptor:
        raise ValueError(
            f"the descriptor passed ({identity_of(embed)!r}) is not the one the DataSpec names ({spec.descriptor!r}); "
            "build the spec with descriptor=bb.identity_of(embed)"
        )
    emb = np.asarray(embed((images[rows].astype(np.float32) / 255.0)[:, None]))
    if emb.ndim != 2 or emb.shape[0] != len(rows):
        raise ValueError(f"embed returned shape {emb.shape}; expected ({len(rows)}, D)")
    keep = remove_near_duplicates(emb, spec.radius, seed=spec.seed)
    return rows[keep]


def remove_near_duplicates(embeddings, radius: float, seed: int = 0, *, block: int = 2048) -> np.ndarray:
    """Greedy removal of near-duplicates: the kept items are pairwise farther apart than ``radius``.

    Items are visited in a seeded random order; an item is kept unless a kept item lies within
    ``radius`` of it (``d <= radius``, i.e. ``float64 <a, b> >= cos(pi * radius)``, the package's
    tie rule). The result is a maximal set of pairwise-distinct items: every removed item has a
    kept neighbour.

    Parameters
    ----------
    embeddings : (n, D) unit vectors.
    radius : normalised angular distance in (0, 1].
    seed : the order in which items are visited.
    block : rows per block of the (n, n) cosine computation (memory ~ 8 * block * n bytes).

    Returns
    -------
    int64 (k,): positions of the kept items, sorted.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    validate_unit(e, "embeddings")
    radius = check_positive(radius, "radius")
    if radius > 1:
        raise ValueError(f"radius must lie in (0, 1]; got {radius}")
    n = len(e)
    threshold = cos_threshold(radius)
    neighbours = []
    for lo in range(0, n, block):
        cos = e[lo : lo + block] @ e.T
        near = cos >= threshold
        near[np.arange(len(cos)), np.arange(lo, lo + len(cos))] = False
        neighbours.extend(np.flatnonzero(row) for row in near)
    removed = np.zeros(n, dtype=bool)
    kept = []
    for i in np.random.default_rng([seed, _DEDUP]).permutation(n):
        if not removed[i]:
            kept.append(i)
            removed[neighbours[i]] = True
    return np.sort(np.asarray(kept, dtype=np.int64))
