"""report.html: rendered offline (every figure inline, no URL to another host) and checked in headless Chromium.

The montages of an image subject must show the samples the diagnosis drew: the re-drawn rows,
embedded again, equal the embeddings the diagnosis stored for them.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.calibration.api import redraw
from bbcollapse.commands import report_images
from bbcollapse.diagnosis import ANCHOR_STREAM, SAMPLE_STREAM
from bbcollapse.diagnosis.html import image_batch, render_html, write_html
from bbcollapse.store import EmbeddingStore
from bbcollapse.subjects.synthetic import PlantedSphere

CHROMIUM = next((p for p in map(shutil.which, ("chromium-headless-shell", "chromium", "chromium-browser")) if p), None)
W = np.random.default_rng(0).standard_normal((6, 3 * 16 * 16)).astype(np.float32)


def tiles(z):
    """A toy image generator: latents (n, 6) -> (n, 16, 16, 3) float images in [-1, 1]; z_0 > 1.3 all alike."""
    x = np.tanh(z @ W).reshape(-1, 16, 16, 3)
    x[z[:, 0] > 1.3] = np.tanh(W[0].reshape(16, 16, 3))
    return x


def flat(x):
    return bb.unit(np.asarray(x, dtype=np.float32).reshape(len(x), -1))


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    model = bb.with_latents(tiles, 6, name="tiles")
    report = bb.diagnose(model, flat, n_anchors=120, n_samples=1500, n_random=40, shard_size=256, store=store,
                         progress=False)  # fmt: skip
    return model, report, store


def foreign_urls(text: str) -> list[str]:
    """http(s) URLs in ``text`` that point anywhere but this machine."""
    urls = re.findall(r"https?://[^\s'\"<>)]+", text)
    return [u for u in urls if not re.match(r"https?://(127\.0\.0\.1|localhost)([:/]|$)", u)]


def test_page_is_self_contained(tmp_path):
    world = PlantedSphere(dim=12, masses=(0.08, 0.04), spread=0.12)
    report = bb.diagnose(world, bb.identity_descriptor, n_anchors=100, n_samples=2000, n_random=40, progress=False)
    report.save(tmp_path)
    page = render_html(bb.Report.load(tmp_path / "report.json"))  # from the saved file, as a later reader would
    assert page == render_html(report)
    with pytest.raises(TypeError, match="Report.load"):
        render_html(tmp_path / "report.json")
    assert foreign_urls(page) == []
    assert not re.search(r"<(script|link|iframe)\b|@import|url\(", page)
    srcs = re.findall(r"src='([^']*)'", page)
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)  # curves and histogram
    assert "pointwise band" in page or "global envelope" in page  # 40 random curves: both can be drawn
    assert f"{report.worst_mccs:.6g}" in page and "n_select" in page


def test_image_montages_show_the_diagnosed_samples(image_run):
    model, report, store = image_run
    c = report.config
    source = dict(sampler=model, descriptor=flat, seed=c["seed"], shard_size=c["shard_size"], progress=False)
    with EmbeddingStore(store / "anchors", stream=ANCHOR_STREAM, **source) as st:
        anchors = st.embeddings(c["n_anchors"])
    with EmbeddingStore(store / "samples", stream=SAMPLE_STREAM, **source) as st:
        samples = st.embeddings(c["n_samples"])
    rows = np.concatenate([[report.worst], report.modes])
    _, xa = redraw(model, seed=c["seed"], stream=ANCHOR_STREAM, index=rows, n_total=c["n_anchors"], shard_size=256)
    np.testing.assert_allclose(flat(xa), anchors[rows], atol=1e-6)
    near = report.nearest_index
    _, xc = redraw(model, seed=c["seed"], stream=SAMPLE_STREAM, index=near, n_total=c["n_samples"], shard_size=256)
    np.testing.assert_allclose(flat(xc), samples[near], atol=1e-6)
    images = report_images(report, model, progress=False)
    assert images["worst"].shape == (16, 16, 3) and images["worst"].dtype == np.uint8
    assert len(images["nearest"]) == len(near) and len(images["modes"]) == len(report.modes)
    np.testing.assert_array_equal(images["worst"], image_batch(xa[:1])[0])
    page = render_html(report, images=images)
    assert page.count("<figure") == 1 + len(near) + len(report.listed_modes())
    assert foreign_urls(page) == []


def test_save_writes_the_html_page(tmp_path):
    world = PlantedSphere(dim=12, masses=(0.08,), spread=0.12)
    report = bb.diagnose(world, bb.identity_descriptor, n_anchors=60, n_samples=800, n_random=5, progress=False)
    report.save(tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert page == render_html(bb.Report.load(tmp_path))  # the page of the saved report, nothing else
    assert f"{report.worst_mccs:.6g}" in page and foreign_urls(page) == []
    report.save(tmp_path / "bare", figures=False)
    assert sorted(p.name for p in (tmp_path / "bare").iterdir()) == ["report.json"]


def isolated_modes_report():
    """A report whose top-5 "modes" include anchors with no sample within r (one dense cluster only)."""
    rng = np.random.default_rng(4)
    centre = bb.unit(rng.standard_normal(64))
    samples = bb.unit(centre + 0.01 * rng.standard_normal((600, 64)))
    anchors = bb.unit(np.vstack([centre + 0.01 * rng.standard_normal((3, 64)), rng.standard_normal((30, 64))]))
    report = bb.diagnose_embeddings(anchors, samples, r=0.1, theta=0.2, top=5, n_random=0, progress=False)
    half = (len(samples) + 1) // 2  # S: the first ceil(n/2) samples
    d = np.arccos(np.clip(anchors[report.modes].astype(np.float64) @ samples[:half].T.astype(np.float64), -1, 1))
    has_neighbours = (d / np.pi <= 0.1).any(axis=1)  # float64 brute force, independent of the engine
    return report, has_neighbours


def test_modes_without_neighbours_are_never_shown(tmp_path):
    from matplotlib.image import imread

    from bbcollapse.diagnosis.plots import save_montages

    report, has_neighbours = isolated_modes_report()
    assert has_neighbours[0] and not has_neighbours.all() and len(report.modes) == 5  # the planted situation
    assert report.listed_modes().tolist() == np.flatnonzero(has_neighbours).tolist()
    assert "(N=0)" not in report.summary()
    p = len(report.modes)
    images = {  # tile j of "modes" filled with the value 10 j + 5, so the montage says which modes it shows
        "worst": np.full((8, 8, 3), 5, np.uint8),
        "nearest": np.full((3, 8, 8, 3), 200, np.uint8),
        "modes": np.repeat(np.arange(5, 10 * p, 10, dtype=np.uint8), 8 * 8 * 3).reshape(p, 8, 8, 3),
    }
    paths = save_montages(report, images, tmp_path, columns=8)
    assert [q.name for q in paths] == ["worst_neighbours.png", "modes.png"]
    grid = np.round(imread(tmp_path / "modes.png")[..., :3] * 255).astype(int)
    shown = [grid[2, 2 + i * 10, 0] for i in range(grid.shape[1] // 10)]  # 8 px tiles, 2 px frames
    assert shown == [10 * j + 5 for j in np.flatnonzero(has_neighbours)]
    page = render_html(report, images=images)
    assert page.count("<figure") == 1 + 3 + int(has_neighbours.sum()) and "N(S)=0" not in page


def test_image_batch_layouts():
    x = np.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    a, b = image_batch(x), image_batch(np.moveaxis(x, 1, -1))
    assert a.shape == (2, 8, 8, 3) and np.array_equal(a, b) and a.min() == 0 and a.max() == 255
    assert image_batch(np.zeros((5, 12))) is None and image_batch(np.zeros((5, 4, 4, 3))) is None
    assert image_batch(np.zeros((5, 28, 28), np.uint8)).shape == (5, 28, 28, 3)  # grey


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is missing: run tools/setup.d/40-chromium-headless-shell.sh"
)
def test_chromium_renders_the_page(image_run, tmp_path):
    from matplotlib.image import imread

    model, report, _ = image_run
    page = write_html(report, tmp_path / "report.html", images=report_images(report, model, progress=False))
    shot = tmp_path / "shot.png"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--proxy-server=127.0.0.1:9",  # any fetch would fail
            f"--screenshot={shot}", "--window-size=1000,2600", page.as_uri()]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    img = imread(shot)[..., :3]  # floats in [0, 1]
    assert img.shape[:2] == (2600, 1000)
    ink = (img.min(axis=-1) < 0.9).mean()  # share of pixels that are not (near) white
    assert 0.02 < ink < 0.9 and img.std() > 0.05, (ink, img.std())
    colour = (img.max(axis=-1) - img.min(axis=-1) > 0.2).mean()  # figures and montages are in colour
    assert colour > 0.005, colour
