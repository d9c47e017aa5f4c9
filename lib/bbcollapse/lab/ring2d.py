"""The 2-D ring and grid of seed 004 (InvertGAN, section 5.1), their metrics, and a descriptor for 2-D points.

**The benchmark.** Seed 004 follows Metz et al. (Unrolled GAN):

* *ring*: eight Gaussians with means ``(2 cos(i pi/4), 2 sin(i pi/4))``, i = 1..8 (the seed prints
  ``cos`` twice; a ring needs ``sin``), standard deviation 0.001; 12.5K training samples per mode
  (100K in all); 50K generated samples are scored;
* *grid*: 25 isotropic Gaussians with means ``(2i, 2j)``, i, j in {-2, ..., 2}, standard deviation
  0.0025; 4K per mode (100K); 100K generated samples are scored.

The literature the seed cites uses other values, and :func:`benchmark` offers both variants:
``variant="seed004"`` (the seed's text) and ``variant="literature"``: ring of radius 1 with
sd 0.01 and grid with sd 0.05, as in the released configurations of PacGAN
(``fjxmlzn/PacGAN``, ``synthetic_data_experiments/2DRing_GAN&PacGAN/config.py`` and
``2DGrid_GAN&PacGAN/config.py``) and GDPP (Elfeki et al.'s synthetic script); the Unrolled GAN
reference notebook (``poolio/unrolled_gan``) also samples its ring with ``std=0.01, radius=1.0``.
The seed's grid "standard deviation 0.0025" equals the literature's grid *variance* 0.05^2.

**Metrics** (seed 004, section 5.1, after VEEGAN and GDPP): a generated point is *high quality*
when it lies within 3 standard deviations (Euclidean distance ``<= 3 sd``) of its nearest mean;
*quality* is the fraction of high-quality points; *modes covered* is the number of means nearest
to at least one high-quality point; the *reverse KL* is ``sum_i p_i log(p_i / (1/m))`` over the m
modes, with ``p_i`` the fraction of ALL generated points that are high quality and nearest mode
i. As the seed notes, ``sum_i p_i < 1`` when some points are of low quality, so this "reverse KL"
can be negative. Modes with ``p_i = 0`` contribute 0. A flaw follows: a model whose points all
miss the 3-sd disks scores 0, better than any imbalanced model of perfect quality. So
:class:`ModeScores` also carries ``reverse_kl_normalised``, the same sum over the high-quality
points' own distribution ``p_i / sum_j p_j`` (a true KL from the uniform, in [0, log m]; 0 when no
point is of high quality); tables say which one they show.

**A descriptor for 2-D points** (:class:`RandomFourierFeatures`): normalised random Fourier
features, so that the cosine of two points approximates the Gaussian kernel
``exp(-|x - y|^2 / (2 l^2))``; then the paper's angular distance is ``arccos(kernel) / pi`` and
the neighbourhood radius r = 0.25 corresponds to ``|x - y| ~ 0.83 l``. With it, MCCS (paper 000,
Eq. 7) can be computed on a world where the truth is known exactly.

**Planted intra-mode collapse** (:class:`PlantedIntraMode`): every mode is drawn with its true
weight, but one mode emits only K *prototypes* plus Gaussian jitter of sd ``jitter * sd``. The
prototypes are a stratified sample of the mode: at the K quantile radii of a 2-D Gaussian
(``sqrt(1 - jitter^2) sd sqrt(-2 ln(1 - (k + 1/2)/K))``) on golden-angle directions, so the
collapsed mode keeps the true radial profile up to its 1/K discretisation. Modes covered and the
mode weights (hence the reverse KL) are those of the true mixture; quality can only move by the
true mode's share beyond 3 sd (1.1% of one mode), and upwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_int, check_option, check_positive
from ..blackbox.protocols import Batch
from ..stats.bootstrap import BootstrapCI

__all__ = [
    "BENCHMARKS",
    "VARIANTS",
    "Mixture2D",
    "ModeScores",
    "PlantedIntraMode",
    "RandomFourierFeatures",
    "assign_modes",
    "benchmark",
    "bootstrap_mode_scores",
    "grid",
    "mode_scores",
    "ring",
    "scores_from_counts",
    "training_set",
]

BENCHMARKS = ("ring", "grid")
VARIANTS = ("seed004", "literature")

#: variant -> (ring radius, ring sd, grid sd) and where the values come from
_VALUES = {
    "seed004": (2.0, 0.001, 0.0025, "seed 004, section 5.1"),
    "literature": (1.0, 0.01, 0.05, "PacGAN / GDPP released configs (ring radius 1, sd 0.01; grid sd 0.05)"),
}
#: benchmark -> number of generated samples scored (seed 004: 50K for the ring, 100K for the grid)
_N_EVAL = {"ring": 50_000, "grid": 100_000}


@dataclass(frozen=True)
class Mixture2D:
    """An equal-weight mixture of isotropic 2-D Gaussians.

    Attributes
    ----------
    name : "ring" or "grid"
    variant : "seed004" or "literature"
    means : (m, 2) float64 array of the mode centres
    sd : the common standard deviation
    n_train : training-set size (equal counts per mode)
    n_eval : number of generated samples the seed scores
    source : where the values come from
    """

    name: str
    variant: str
    means: np.ndarray
    sd: float
    n_train: int
    n_eval: int
    source: str

    @property
    def m(self) -> int:
        """Number of modes."""
        return int(self.means.shape[0])

    @property
    def label(self) -> str:
        return f"{self.name} ({self.variant}: sd {self.sd:g})"

    def sample(self, seed: int, n: int, *, stratified: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points of the mixture, float64 (n, 2), and their mode labels (n,) int64.

        ``stratified=True`` gives every mode ``n // m`` points (n must be a multiple of m), as the
        seed's training sets do; otherwise labels are drawn uniformly.
        """
        n = check_int(n, "n", minimum=1)
        rng = np.random.default_rng(seed)
        if stratified:
            if n % self.m:
                raise ValueError(f"a stratified sample needs n to be a multiple of {self.m}; got {n}")
            labels = np.repeat(np.arange(self.m), n // self.m)
            rng.shuffle(labels)
        else:
            labels = rng.integers(0, self.m, size=n)
        return self.means[labels] + self.sd * rng.standard_normal((n, 2)), labels

    def __repr__(self):
        return f"Mixture2D({self.label}, m={self.m}, n_train={self.n_train}, n_eval={self.n_eval})"


def ring(variant: str = "seed004") -> Mixture2D:
    """Eight Gaussians on a circle: means ``(R cos(i pi/4), R sin(i pi/4))``, i = 1..8."""
    check_option(variant, VARIANTS, "variant")
    radius, sd, _, source = _VALUES[variant]
    angles = np.arange(1, 9) * np.pi / 4
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture2D("ring", variant, means, sd, 100_000, _N_EVAL["ring"], source)


def grid(variant: str = "seed004") -> Mixture2D:
    """25 Gaussians with means ``(2i, 2j)``, i, j in {-2, ..., 2}."""
    check_option(variant, VARIANTS, "variant")
    _, _, sd, source = _VALUES[variant]
    ij = np.arange(-2, 3)
    means = np.array([(2.0 * i, 2.0 * j) for i in ij for j in ij])
    return Mixture2D("grid", variant, means, sd, 100_000, _N_EVAL["grid"], source)


def benchmark(name: str, variant: str = "seed004") -> Mixture2D:
    """The ring or the grid (see the module docstring for the two variants)."""
    check_option(name, BENCHMARKS, "benchmark")
    return ring(variant) if name == "ring" else grid(variant)


def training_set(spec: Mixture2D, seed: int) -> np.ndarray:
    """The seed's training set: ``spec.n_train`` points, equal counts per mode, float32 (n, 2)."""
    return spec.sample(seed, spec.n_train, stratified=True)[0].astype(np.float32)


@dataclass(frozen=True)
class ModeScores:
    """Seed 004's three metrics for one set of generated points.

    Attributes
    ----------
    modes : number of modes covered (nearest mean of at least one high-quality point)
    quality : fraction of points within 3 sd of their nearest mean
    reverse_kl : ``sum_i p_i log(p_i m)`` over the modes (may be negative, see the module docstring)
    counts : (m,) int64, high-quality points per mode
    n : number of points scored
    """

    modes: int
    quality: float
    reverse_kl: float
    counts: np.ndarray
    n: int

    @property
    def reverse_kl_normalised(self) -> float:
        """KL of the high-quality points' mode frequencies from the uniform (0 when there are none)."""
        total = int(self.counts.sum())
        return scores_from_counts(self.counts, total)[2] if total else 0.0

    def __repr__(self):
        return (
            f"ModeScores(modes={self.modes}/{self.counts.size}, quality={100 * self.quality:.1f}%, "
            f"reverse_kl={self.reverse_kl:.3f}, n={self.n})"
        )


def assign_modes(x, spec: Mixture2D, *, block: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Nearest mode of every point and whether it is of high quality (within 3 sd of that mean).

    Parameters
    ----------
    x : (n, 2) points
    spec : the mixture

    Returns
    -------
    nearest : (n,) int64 index of the nearest mean
    good : (n,) bool, ``|x - mean| <= 3 sd``
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2); got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("points must be finite")
    nearest = np.empty(x.shape[0], dtype=np.int64)
    dist2 = np.empty(x.shape[0])
    for start in range(0, x.shape[0], block):
        d2 = ((x[start : start + block, None, :] - spec.means[None]) ** 2).sum(-1)
        nearest[start : start + block] = d2.argmin(1)
        dist2[start : start + block] = d2.min(1)
    return nearest, dist2 <= (3.0 * spec.sd) ** 2


def scores_from_counts(counts, n: int) -> tuple[int, float, float]:
    """(modes covered, quality, reverse KL) from the high-quality counts per mode and the number of points."""
    counts = np.asarray(counts, dtype=np.float64)
    p = counts / n
    nz = p > 0
    rkl = float((p[nz] * np.log(p[nz] * counts.size)).sum())
    return int(nz.sum()), float(p.sum()), rkl


def mode_scores(x, spec: Mixture2D) -> ModeScores:
    """Modes covered, quality and reverse KL of generated points (seed 004, section 5.1).

    Parameters
    ----------
    x : (n, 2) generated points
    spec : the mixture they are scored against

    Returns
    -------
    ModeScores
    """
    nearest, good = assign_modes(x, spec)
    counts = np.bincount(nearest[good], minlength=spec.m).astype(np.int64)
    modes, quality, rkl = scores_from_counts(counts, nearest.size)
    return ModeScores(modes, quality, rkl, counts, int(nearest.size))


def bootstrap_mode_scores(
    x, spec: Mixture2D, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, BootstrapCI]:
    """Percentile bootstrap intervals of the three metrics, resampling the generated points.

    A resample only changes how many points fall in each cell (a mode's high-quality points, or
    the low-quality rest), so it is drawn exactly as a multinomial over those m + 1 cells.

    Returns
    -------
    dict with keys "modes", "quality", "reverse_kl", each a :class:`bbcollapse.BootstrapCI`
    """
    n_boot = check_int(n_boot, "n_boot", minimum=100)
    level = check_fraction(level, "level")
    s = mode_scores(x, spec)
    cells = np.append(s.counts, s.n - s.counts.sum()) / s.n
    draws = np.random.default_rng(seed).multinomial(s.n, cells, size=n_boot)[:, :-1]
    boot = np.array([scores_from_counts(c, s.n) for c in draws])
    q = (1 - level) / 2
    out = {}
    for j, (name, est) in enumerate((("modes", s.modes), ("quality", s.quality), ("reverse_kl", s.reverse_kl))):
        lo, hi = np.quantile(boot[:, j], [q, 1 - q])
        out[name] = BootstrapCI(float(est), float(lo), float(hi), float(boot[:, j].std(ddof=1)), level, n_boot)
    return out


class RandomFourierFeatures:
    """A descriptor for 2-D points: unit vectors whose cosines approximate a Gaussian kernel.

    ``phi(x) = sqrt(2 / D) cos(W x + b)`` with ``W ~ N(0, I / l^2)`` (D x 2) and ``b ~ U[0, 2 pi)``
    (Rahimi and Recht, 2007), so that ``E[phi(x) . phi(y)] = exp(-|x - y|^2 / (2 l^2))``; each
    ``phi(x)`` is then divided by its norm (which is 1 only in expectation), so the cosine is
    that kernel up to O(1/sqrt(D)) noise. Far-apart points have cosines near 0, i.e. angular
    distance near 0.5. The phases are computed in float64 (``|W x|`` reaches 10^4 radians when
    ``l`` is a fraction of the seed's sd 0.001), then cast to float32.

    Parameters
    ----------
    lengthscale : l, in the units of the points
    dim : D, the number of features
    seed : seed of W and b
    """

    def __init__(self, lengthscale: float, dim: int = 256, seed: int = 0):
        self.lengthscale = check_positive(lengthscale, "lengthscale")
        self.dim = check_int(dim, "dim", minimum=2)
        self.seed = int(seed)
        rng = np.random.default_rng(seed)
        self.weights = rng.standard_normal((self.dim, 2)) / self.lengthscale
        self.phases = rng.uniform(0.0, 2.0 * np.pi, self.dim)

    def kernel(self, delta):
        """The Gaussian kernel the cosines approximate, at distance ``delta``."""
        return np.exp(-(np.asarray(delta, dtype=np.float64) ** 2) / (2.0 * self.lengthscale**2))

    def __call__(self, x) -> np.ndarray:
        """(n, 2) points -> (n, D) float32 unit vectors."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2); got {x.shape}")
        f = np.cos(x @ self.weights.T + self.phases)
        return (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)

    @property
    def identity(self) -> str:
        return f"RandomFourierFeatures(lengthscale={self.lengthscale:g}, dim={self.dim}, seed={self.seed})"

    def __repr__(self):
        return self.identity


class PlantedIntraMode:
    """A sampler covering every mode with its true weight, collapsed inside one mode.

    Mode ``collapsed`` emits only ``prototypes`` distinct centres (a stratified sample of the mode,
    see the module docstring) plus ``N(0, (jitter sd)^2)`` noise per point; every other mode is
    exact. ``prototypes=None`` gives the true mixture (no collapse).

    Parameters
    ----------
    spec : the mixture
    prototypes : K >= 1 distinct centres in the collapsed mode, or None
    collapsed : index of the collapsed mode
    jitter : in [0, 1), the noise around each prototype, in units of sd

    Calling ``sampler(seed, n)`` returns ``Batch(z, x)`` with z (n, 3) float32: the mode index and
    the two standard normal draws, and x (n, 2) float64.
    """

    def __init__(self, spec: Mixture2D, prototypes: int | None = None, *, collapsed: int = 0, jitter: float = 0.1):
        self.spec = spec
        self.collapsed = check_int(collapsed, "collapsed")
        if self.collapsed >= spec.m:
            raise ValueError(f"collapsed must be a mode index below {spec.m}; got {collapsed}")
        self.prototypes = None if prototypes is None else check_int(prototypes, "prototypes", minimum=1)
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must lie in [0, 1); got {jitter!r}")
        self.jitter = float(jitter)
        self.centres = None
        if self.prototypes is not None:
            k = np.arange(self.prototypes)
            radius = np.sqrt(-2.0 * np.log(1.0 - (k + 0.5) / self.prototypes))  # quantiles of a 2-D radius
            angle = k * np.pi * (3.0 - np.sqrt(5.0))  # golden angle
            unit = np.stack([np.cos(angle), np.sin(angle)], axis=1)
            spread = spec.sd * np.sqrt(1.0 - self.jitter**2)
            self.centres = spec.means[self.collapsed] + spread * radius[:, None] * unit

    def __call__(self, seed: int, n: int) -> Batch:
        n = check_int(n, "n", minimum=1)
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, self.spec.m, size=n)
        eps = rng.standard_normal((n, 2))
        x = self.spec.means[labels] + self.spec.sd * eps
        if self.centres is not None:
            hit = labels == self.collapsed
            pick = rng.integers(0, self.prototypes, size=int(hit.sum()))
            x[hit] = self.centres[pick] + self.jitter * self.spec.sd * eps[hit]
        z = np.column_stack([labels, eps]).astype(np.float32)
        return Batch(z, x)

    @property
    def identity(self) -> str:
        what = "none" if self.prototypes is None else f"{self.prototypes} prototypes, jitter {self.jitter:g}"
        return f"PlantedIntraMode({self.spec.label}, mode {self.collapsed}: {what})"

    def __repr__(self):
        return self.identity
