"""Every long step shows a tqdm bar when asked (or on a terminal), and none with ``progress=False``.

Each step runs at a tiny size with stderr captured: a bar is recognised by its label and tqdm's
final ``100%|...| n/n`` line, so a step that stopped updating its bar (or never opened one) fails.
The steps: calibrator fitting and sampling (GMM, Voronoi, rejection, ``bb.calibrate``, a loaded
calibrated sampler), white-box recovery, null-world banks, lab and toy training.
"""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.calibration import (
    gmm_calibrator,
    rejection_calibrator,
    voronoi_calibrator,
    white_box_latents,
)
from bbcollapse.calibration.api import calibrate
from bbcollapse.calibration.persist import load_calibrated, save_calibrated
from bbcollapse.stats import null_worst_case_curves
from bbcollapse.subjects.synthetic import PlantedSphere

WORLD = PlantedSphere(dim=6, masses=(0.2,), spread=0.15, centres_seed=0)
R0 = 0.2
FIT = dict(modes=WORLD.centres[0], r0=R0, n_fit=300, descriptor=bb.identity_descriptor)


def finished_bar(err: str, desc: str, total: int) -> bool:
    """True when stderr holds a tqdm bar labelled ``desc`` that reached ``total`` of ``total``."""
    n = rf"{total}(?:\.0+)?"  # tqdm writes 50 as 50.0 or 2 as 2.00 with unit_scale
    return re.search(rf"{re.escape(desc)}: 100%\|[^\n\r]*\| {n}/{n} ", err) is not None


@pytest.fixture
def terminal(monkeypatch, capsys):
    """stderr captured, but the progress helper told it is a terminal: ``progress=None`` then shows bars."""
    from bbcollapse import _progress

    tty = types.SimpleNamespace(stderr=types.SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(_progress, "sys", tty)
    return capsys


# -- calibrators: fitting and sampling --------------------------------------------------------------
@pytest.mark.parametrize(
    "make, method",
    [
        (lambda p: gmm_calibrator(WORLD, n_clusters=4, progress=p, **FIT), "gmm"),
        (lambda p: voronoi_calibrator(WORLD, n_clusters=4, progress=p, **FIT), "voronoi"),
        (lambda p: rejection_calibrator(WORLD, accept_prob=0.3, progress=p, **FIT), "rejection-output"),
    ],
)
def test_calibrator_fit_and_sampling_show_bars(make, method, capsys):
    cal = make(True)
    cal(1, 50)
    err = capsys.readouterr().err
    assert finished_bar(err, "embed fitting set", 300), err
    assert finished_bar(err, method, 50), err
    assert "proposed=" in err  # the draw says how many proposals it took
    if method == "rejection-output":  # a round embeds its proposals (~n / acceptance) under a bar of its own
        assert "embed proposals: " in err, err  # transient (leave=False): its 100% line is erased on close
    cal = make(False)
    cal(1, 50)
    assert capsys.readouterr().err == ""


def test_calibrate_api_and_a_loaded_sampler_show_bars(tmp_path, capsys):
    report = bb.diagnose(WORLD, bb.identity_descriptor, n_anchors=50, n_samples=400, progress=False)
    capsys.readouterr()
    cal = calibrate(
        WORLD, bb.identity_descriptor, report, method="voronoi", n_fit=600, n_pilot=200, n_clusters=4, progress=True
    )
    cal(2, 40)
    err = capsys.readouterr().err
    assert finished_bar(err, "embed pilot", 200) and finished_bar(err, "embed fitting set", 400), err
    assert finished_bar(err, "voronoi", 40), err
    directory = save_calibrated(cal, tmp_path / "cal", descriptor_spec="identity").parent
    loud = load_calibrated(directory, model=WORLD, descriptor=bb.identity_descriptor, progress=True)
    loud(3, 30)
    assert finished_bar(capsys.readouterr().err, "voronoi", 30)
    silent = load_calibrated(directory, model=WORLD, descriptor=bb.identity_descriptor, progress=False)
    np.testing.assert_array_equal(silent.latents(3, 30), loud.latents(3, 30))  # the bar changes no draw
    assert capsys.readouterr().err.count("voronoi: 100%") == 1  # only the loud sampler's second draw


def test_calibrator_bars_follow_the_terminal_by_default(terminal):
    cal = voronoi_calibrator(WORLD, n_clusters=4, **FIT)
    cal(1, 20)
    err = terminal.readouterr().err
    assert finished_bar(err, "embed fitting set", 300) and finished_bar(err, "voronoi", 20), err


def test_calibrator_bars_stay_off_when_stderr_is_no_terminal(capsys):
    cal = voronoi_calibrator(WORLD, n_clusters=4, **FIT)
    cal(1, 20)
    assert capsys.readouterr().err == ""


# -- white-box recovery -----------------------------------------------------------------------------
def test_white_box_recovery_shows_its_steps(capsys):
    torch = pytest.importorskip("torch")
    w = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))

    def gen(z):
        x = z @ w.T + 0.5
        return x / x.norm(dim=-1, keepdim=True)

    target = gen(torch.randn(1, 4, generator=torch.Generator().manual_seed(1)))[0].numpy()
    kw = dict(target_image=target, latent_dim=4, descriptor=lambda x: x, n_restarts=4, steps=12, seed=2)
    loud = white_box_latents(gen, progress=True, **kw)
    err = capsys.readouterr().err
    assert finished_bar(err, "white-box recovery", 12) and "loss=" in err, err
    quiet = white_box_latents(gen, progress=False, **kw)
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(loud.z, quiet.z)  # the bar reads the loss, it changes nothing


# -- null-world banks -------------------------------------------------------------------------------
def test_null_world_bank_shows_one_bar_over_the_worlds(terminal):
    null = PlantedSphere(dim=8, masses=())
    kw = dict(n_anchors=20, n_samples=100, n_worlds=5, r=0.3)
    curves = null_worst_case_curves(null, **kw)  # progress=None on a "terminal"
    err = terminal.readouterr().err
    assert finished_bar(err, "null worlds", 5), err
    assert "neighbours" not in err  # the engine's own bar, once per world, is off
    np.testing.assert_array_equal(null_worst_case_curves(null, progress=False, **kw), curves)
    assert terminal.readouterr().err == ""


# -- training -------------------------------------------------------------------------------------
def test_toy_training_shows_its_batches(tmp_path, capsys):
    pytest.importorskip("torch")
    from bbcollapse.lab.toy_core import ToyConfig
    from bbcollapse.lab.toy_train import train_toy

    config = ToyConfig(method="gan", steps=6, width=16, partition_steps=5, batch_size=32)
    train_toy(config, (0,), cache_dir=tmp_path / "a", progress=True)
    err = capsys.readouterr().err
    assert finished_bar(err, f"gan {config.benchmark}/{config.variant} x1", 6), err
    train_toy(config, (0,), cache_dir=tmp_path / "b", progress=False)
    assert capsys.readouterr().err == ""


def test_lab_training_shows_its_steps(tmp_path, capsys):
    pytest.importorskip("torch")
    from lab_helpers import needs_data, tiny

    if needs_data.args[0]:
        pytest.skip(needs_data.kwargs["reason"])
    from bbcollapse.lab import train, train_many

    config = tiny(steps=3)
    train(config, cache_dir=tmp_path / "a", progress=True)
    err = capsys.readouterr().err
    assert finished_bar(err, config.name, 3), err
    train(config, cache_dir=tmp_path / "b", progress=False)
    assert capsys.readouterr().err == ""
    train_many([config, tiny(steps=2)], workers=1, cache_dir=tmp_path / "c", progress=True)
    assert finished_bar(capsys.readouterr().err, "lab", 2)
