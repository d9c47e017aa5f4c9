"""SSIM and MS-SSIM diversity: a float64 numpy computation on tiny images, closed forms, the peer's ms_ssim."""

import numpy as np
import pytest
import torch

from bbcollapse.metrics import (
    MS_SSIM_WEIGHTS,
    mean_pairwise_ms_ssim,
    mean_pairwise_ssim,
    random_pairs,
)
from bbcollapse.metrics.similarity import ms_ssim_values

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _filter(img, win):
    # valid separable Gaussian filter of a 2-D float64 image
    g = np.exp(-((np.arange(win) - win // 2) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    rows = np.lib.stride_tricks.sliding_window_view(img, win, axis=0) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, win, axis=1) @ g


def _ssim_cs(x, y, win):
    # (mean SSIM, mean contrast-structure) of one channel, Wang et al. 2004 with K = (0.01, 0.03), range 255
    mx, my = _filter(x, win), _filter(y, win)
    sxx, syy, sxy = _filter(x * x, win) - mx**2, _filter(y * y, win) - my**2, _filter(x * y, win) - mx * my
    cs = (2 * sxy + C2) / (sxx + syy + C2)
    return float(((2 * mx * my + C1) / (mx**2 + my**2 + C1) * cs).mean()), float(cs.mean())


def _direct_ssim(a, b, win):
    return np.mean([_ssim_cs(a[..., c], b[..., c], win)[0] for c in range(a.shape[-1])])


def _direct_ms_ssim(a, b, win, levels):
    w = np.asarray(MS_SSIM_WEIGHTS[:levels]) / np.sum(MS_SSIM_WEIGHTS[:levels])
    out = []
    for c in range(a.shape[-1]):
        x, y, value = a[..., c].astype(float), b[..., c].astype(float), 1.0
        for lv in range(levels):
            s, cs = _ssim_cs(x, y, win)
            if lv < levels - 1:
                value *= max(cs, 0.0) ** w[lv]
                x = x.reshape(x.shape[0] // 2, 2, -1, 2).mean((1, 3))  # 2x2 average pooling (even sides)
                y = y.reshape(y.shape[0] // 2, 2, -1, 2).mean((1, 3))
        out.append(value * max(s, 0.0) ** w[-1])
    return float(np.mean(out))


def _smooth_images(rng, n, side, channels):
    # random smooth images (so SSIM is far from 0 and the test is not trivially near zero)
    base = rng.random((n, side // 4, side // 4, channels))
    up = torch.nn.functional.interpolate(torch.from_numpy(base).permute(0, 3, 1, 2), size=(side, side), mode="bilinear")
    return (up.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_direct_float64(rng, channels):
    imgs = _smooth_images(rng, 5, 20, channels)
    got = mean_pairwise_ssim(imgs, n_pairs=12, seed=3, win_size=7)
    pairs = random_pairs(5, 12, 3)
    direct = np.mean([_direct_ssim(imgs[i].astype(float), imgs[j].astype(float), 7) for i, j in pairs])
    assert got.mean == pytest.approx(direct, abs=2e-5)
    assert got.n_pairs == 12 and got.se > 0


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_ms_ssim_matches_direct_float64(rng, levels):
    imgs = _smooth_images(rng, 4, 32, 3)
    got = mean_pairwise_ms_ssim(imgs, n_pairs=8, seed=1, win_size=3, levels=levels)
    direct = np.mean([_direct_ms_ssim(imgs[i], imgs[j], 3, levels) for i, j in random_pairs(4, 8, 1)])
    assert got.mean == pytest.approx(direct, abs=2e-5)
    assert got.levels == levels and f"{levels} scales" in got.name


def test_closed_forms_constant_and_identical_images():
    # constant images a, b: no structure term (sigma = 0 -> cs = 1), SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b = 60.0, 180.0
    imgs = np.stack([np.full((24, 24), a), np.full((24, 24), b)]).astype(np.uint8)
    lum = (2 * a * b + C1) / (a * a + b * b + C1)
    # float32 variances E[x^2] - mu^2 of pixels near 180 cancel to ~1e-3, against C2 = 58.5: 1e-4 relative
    assert mean_pairwise_ssim(imgs, n_pairs=4).mean == pytest.approx(lum, rel=3e-4)
    # MS-SSIM: cs = 1 at every scale and average pooling keeps constants: lum ** (last weight)
    w = np.asarray(MS_SSIM_WEIGHTS[:2]) / sum(MS_SSIM_WEIGHTS[:2])
    assert mean_pairwise_ms_ssim(imgs, n_pairs=4, levels=2, win_size=5).mean == pytest.approx(lum ** w[-1], rel=3e-4)
    same = np.repeat(_smooth_images(np.random.default_rng(0), 1, 24, 3), 3, axis=0)
    assert mean_pairwise_ssim(same, n_pairs=6, win_size=5).mean == pytest.approx(1.0, abs=1e-6)


def test_equal_the_peer_pytorch_msssim(rng):
    from pytorch_msssim import ms_ssim, ssim

    # five scales need > 160 px; an odd side exercises the padded pooling
    a = torch.from_numpy(rng.random((2, 3, 177, 176)).astype(np.float32))
    b = (a + 0.1 * torch.from_numpy(rng.random((2, 3, 177, 176)).astype(np.float32))).clamp(0, 1)
    ours = ms_ssim_values(a, b, data_range=1.0, win_size=11, weights=list(MS_SSIM_WEIGHTS))
    torch.testing.assert_close(ours, ms_ssim(a, b, data_range=1.0, size_average=False), rtol=1e-5, atol=1e-5)
    imgs = _smooth_images(rng, 6, 64, 3)
    x = torch.from_numpy(imgs.transpose(0, 3, 1, 2).astype(np.float32))
    for win in (7, 11):
        got = mean_pairwise_ssim(imgs, n_pairs=10, seed=2, win_size=win)
        p = random_pairs(6, 10, 2)
        peer = ssim(x[p[:, 0]], x[p[:, 1]], data_range=255, win_size=win, size_average=False)
        assert got.mean == pytest.approx(float(peer.double().mean()), abs=1e-5)


def test_random_pairs_are_distinct_and_cover():
    p = random_pairs(5, 20_000, 0)
    assert (p[:, 0] != p[:, 1]).all() and p.min() == 0 and p.max() == 4
    counts = np.bincount(p[:, 0] * 5 + p[:, 1], minlength=25).reshape(5, 5)
    off = counts[~np.eye(5, dtype=bool)]
    assert np.abs(off / off.mean() - 1).max() < 0.15  # uniform over the 20 ordered pairs


def test_bad_input(rng):
    imgs = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="wider than"):
        mean_pairwise_ms_ssim(imgs, levels=3, win_size=11)
    with pytest.raises(ValueError, match="odd"):
        mean_pairwise_ssim(imgs, win_size=6)
    with pytest.raises(ValueError, match="at least 11"):
        mean_pairwise_ssim(imgs[:, :8, :8])
    with pytest.raises(ValueError, match="levels"):
        mean_pairwise_ms_ssim(imgs, levels=6)
    with pytest.raises(ValueError, match="images must be"):
        mean_pairwise_ssim(np.zeros((1, 28, 28)))
