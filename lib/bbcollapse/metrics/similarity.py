"""SSIM and MS-SSIM diversity: the mean structural similarity of random pairs of generated images.

Not an equation of paper 000: seed 003 lists SSIM (Wang et al. 2004) and MS-SSIM (Wang et al.
2003) among the standard metrics, and the mean MS-SSIM over random pairs of samples is the
diversity check of Odena et al. (2017): the higher it is, the more alike the samples (collapse
raises it).  It needs no features and no weights.  The computation is ``pytorch-msssim``'s
(Gaussian window of side ``win_size``, sigma 1.5, K = (0.01, 0.03), valid filtering, per-channel
maps averaged over the map and then over channels; for MS-SSIM, ``relu`` of each scale's term,
2x2 average pooling between scales and the weighted product), with one change of means: the
separable Gaussian filter is two matrix products with banded matrices (:func:`ssim_terms`), 2-3x
faster on a CPU than the package's depthwise convolution.  The tests check both against
``pytorch_msssim.ssim`` and ``pytorch_msssim.ms_ssim`` and against a float64 numpy computation.

MS-SSIM's standard five scales need images wider than ``(win_size - 1) * 2^4`` = 160 px.  The
book's faces are 64 px and Fashion-MNIST 28 px, so :func:`mean_pairwise_ms_ssim` takes the number
of scales (``levels``; the first ``levels`` of the standard weights, renormalised to sum to 1) and
the window, and the result records both: "MS-SSIM (3 scales, 7-px window)" is what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_positive
from .result import MetricResult

__all__ = [
    "PairwiseSimilarity",
    "mean_pairwise_ssim",
    "mean_pairwise_ms_ssim",
    "ms_ssim_values",
    "ssim_terms",
    "MS_SSIM_WEIGHTS",
    "random_pairs",
]

#: The five scale weights of MS-SSIM (Wang et al. 2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@dataclass(frozen=True, repr=False)
class PairwiseSimilarity(MetricResult):
    """Mean SSIM or MS-SSIM over random pairs of distinct images, with its standard error."""

    kind: str
    mean: float
    se: float
    n_pairs: int
    win_size: int
    levels: int

    @property
    def value(self) -> float:
        return self.mean

    @property
    def name(self) -> str:
        scales = f"{self.levels} scales, " if self.kind == "ms-ssim" else ""
        return f"mean pairwise {self.kind.upper()} ({scales}{self.win_size}-px window)"


def check_images(images, data_range):
    """Images as a float tensor (n, C, H, W) and their data range.

    ``images``: (n, H, W) grey or (n, H, W, C) channels-last, uint8 (range 255) or float (range
    ``data_range``, default 1.0).
    """
    import torch

    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) < 2:
        raise ValueError(f"images must be (n >= 2, H, W) or (n, H, W, 1 or 3) channels-last; got shape {x.shape}")
    if data_range is None:
        data_range = 255.0 if x.dtype == np.uint8 else 1.0
    data_range = check_positive(data_range, "data_range")
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))
    if not torch.isfinite(t).all():
        raise ValueError("images contain NaN or inf")
    return t, data_range


def random_pairs(n: int, n_pairs: int, seed: int) -> np.ndarray:
    """``n_pairs`` uniformly random pairs (i, j) of distinct indices in [0, n), (n_pairs, 2) int64."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # uniform over the n - 1 others
    return np.stack([i, j], axis=1)


def _banded_gaussian(n: int, win_size: int, dtype):
    """(n, n - win_size + 1) matrix M with ``x @ M`` the valid Gaussian filter (sigma 1.5) of rows x."""
    import torch

    g = torch.exp(-((torch.arange(win_size, dtype=torch.float64) - win_size // 2) ** 2) / (2 * 1.5**2))
    g = (g / g.sum()).to(dtype)
    m = torch.zeros(n, n - win_size + 1, dtype=dtype)
    cols = torch.arange(n - win_size + 1)
    for a in range(win_size):
        m[cols + a, cols] = g[a]
    return m


def ssim_terms(a, b, *, data_range: float, win_size: int):
    """Mean SSIM and mean contrast-structure term per image and channel, (n, C) each, of batches a, b (n, C, H, W)."""
    gh = _banded_gaussian(a.shape[-2], win_size, a.dtype)
    gw = _banded_gaussian(a.shape[-1], win_size, a.dtype)
    filt = lambda x: gh.T @ (x @ gw)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ma, mb = filt(a), filt(b)
    cs = (2 * (filt(a * b) - ma * mb) + c2) / (filt(a * a) - ma * ma + filt(b * b) - mb * mb + c2)
    s = (2 * ma * mb + c1) / (ma * ma + mb * mb + c1) * cs
    return s.flatten(2).mean(-1), cs.flatten(2).mean(-1)


def ms_ssim_values(a, b, *, data_range: float, win_size: int, weights):
    """Per-image MS-SSIM (n,) of image batches a, b (n, C, H, W) with ``len(weights)`` scales."""
    import torch
    import torch.nn.functional as F

    terms = []
    for level in range(len(weights)):
        s, cs = ssim_terms(a, b, data_range=data_range, win_size=win_size)
        if level < len(weights) - 1:
            terms.append(torch.relu(cs))
            padding = [d % 2 for d in a.shape[2:]]
            a, b = F.avg_pool2d(a, kernel_size=2, padding=padding), F.avg_pool2d(b, kernel_size=2, padding=padding)
    terms.append(torch.relu(s))
    w = a.new_tensor(weights).view(-1, 1, 1)
    return torch.prod(torch.stack(terms) ** w, dim=0).mean(1)


def _pairwise(kind, images, *, n_pairs, seed, data_range, win_size, levels, batch):
    import torch

    x, data_range = check_images(images, data_range)
    n_pairs, batch = check_int(n_pairs, "n_pairs", minimum=2), check_int(batch, "batch", minimum=1)
    win_size = check_int(win_size, "win_size", minimum=1)
    if win_size % 2 == 0:
        raise ValueError(f"win_size must be odd; got {win_size}")
    side = min(x.shape[-2:])
    if kind == "ssim" and side < win_size:
        raise ValueError(f"SSIM with a {win_size}-px window needs images of at least {win_size} px; got {side}")
    if kind == "ms-ssim":
        levels = check_int(levels, "levels", minimum=1)
        if levels > len(MS_SSIM_WEIGHTS):
            raise ValueError(f"levels must be at most {len(MS_SSIM_WEIGHTS)}; got {levels}")
        if side <= (win_size - 1) * 2 ** (levels - 1):
            raise ValueError(
                f"MS-SSIM with {levels} scales and a {win_size}-px window needs images wider than "
                f"{(win_size - 1) * 2 ** (levels - 1)} px; got {side}: use fewer levels or a smaller window"
            )
        w = np.asarray(MS_SSIM_WEIGHTS[:levels])
        weights = (w / w.sum()).tolist()
    pairs = random_pairs(len(x), n_pairs, seed)
    values = np.empty(n_pairs)
    with torch.no_grad():
        for s in range(0, n_pairs, batch):
            p = pairs[s : s + batch]
            a, b = x[p[:, 0]], x[p[:, 1]]
            if kind == "ssim":
                v = ssim_terms(a, b, data_range=data_range, win_size=win_size)[0].mean(1)
            else:
                v = ms_ssim_values(a, b, data_range=data_range, win_size=win_size, weights=weights)
            values[s : s + len(p)] = v.double().numpy()
    return PairwiseSimilarity(
        kind=kind,
        mean=float(values.mean()),
        se=float(values.std(ddof=1) / np.sqrt(n_pairs)),
        n_pairs=n_pairs,
        win_size=win_size,
        levels=levels if kind == "ms-ssim" else 1,
    )


def mean_pairwise_ssim(
    images, *, n_pairs: int = 1000, seed: int = 0, data_range=None, win_size: int = 11, batch: int = 256
) -> PairwiseSimilarity:
    """Mean SSIM of ``n_pairs`` random pairs of distinct images (higher: less diverse).

    Parameters
    ----------
    images : (n, H, W) or (n, H, W, C) images, uint8 or float (see ``data_range``)
    n_pairs : number of random pairs (drawn with replacement among the n (n - 1) ordered pairs)
    seed : seed of the pairs
    data_range : value range of the pixels (default 255 for uint8, else 1.0)
    win_size : side of the Gaussian window (odd)
    batch : pairs per call of ``pytorch_msssim``

    Returns
    -------
    PairwiseSimilarity (``se`` is the standard error of the mean over the pairs)
    """
    return _pairwise(
        "ssim", images, n_pairs=n_pairs, seed=seed, data_range=data_range, win_size=win_size, levels=1, batch=batch
    )


def mean_pairwise_ms_ssim(
    images,
    *,
    n_pairs: int = 1000,
    seed: int = 0,
    data_range=None,
    win_size: int = 11,
    levels: int = 5,
    batch: int = 256,
) -> PairwiseSimilarity:
    """Mean MS-SSIM of ``n_pairs`` random pairs of distinct images (higher: less diverse).

    Parameters are those of :func:`mean_pairwise_ssim`, plus ``levels``: the number of scales (the
    first ``levels`` weights of :data:`MS_SSIM_WEIGHTS`, renormalised); the image side must exceed
    ``(win_size - 1) * 2^(levels - 1)``.
    """
    return _pairwise(
        "ms-ssim",
        images,
        n_pairs=n_pairs,
        seed=seed,
        data_range=data_range,
        win_size=win_size,
        levels=levels,
        batch=batch,
    )
