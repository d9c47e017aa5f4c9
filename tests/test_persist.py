"""Saved calibrated samplers: safe files, bit-identical draws after a reload, and every alteration refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.calibration.api import calibrate
from bbcollapse.calibration.persist import (
    MANIFEST,
    CalibratedFileError,
    load_calibrated,
    resolve_calibrated,
    save_calibrated,
)
from bbcollapse.cli import resolve_descriptor, resolve_sampler
from bbcollapse.subjects.synthetic import PlantedSphere

SPEC = "synthetic:dim=12,masses=[0.08,0.04],spread=0.12"
METHODS = ("rejection", "rejection-ball", "gmm", "voronoi", "voronoi-non-mode")


@pytest.fixture(scope="module")
def world():
    return resolve_sampler(SPEC)


@pytest.fixture(scope="module")
def fitted(world):
    report = bb.diagnose(world, bb.identity_descriptor, n_anchors=150, n_samples=3000, progress=False)
    kw = dict(n_fit=3000, n_clusters=20, progress=False)
    return {m: calibrate(world, bb.identity_descriptor, report, method=m, **kw) for m in METHODS}


def save(cal, path, **kw) -> Path:
    return save_calibrated(cal, path, sampler_spec=SPEC, descriptor_spec="identity", **kw).parent


@pytest.mark.parametrize("method", METHODS)
def test_reload_draws_bit_identically(fitted, world, tmp_path, method):
    cal = fitted[method]
    d = save(cal, tmp_path / method)
    back = load_calibrated(d, model=world, descriptor=bb.identity_descriptor)
    assert type(back) is type(cal) and back.method == cal.method
    for seed in (0, 1, 12345):
        a, b = cal(seed, 700), back(seed, 700)
        assert np.array_equal(a.z, b.z) and np.array_equal(a.x, b.x)
    assert back.expected_acceptance == cal.expected_acceptance
    assert bb.identity_of(back) == bb.identity_of(cal)  # save stamps the saved identity on the original
    assert bb.identity_of(back).startswith(f"calibrated({cal.method}, state sha256:")
    # the same SPEC resolved again, as --sampler calibrated:DIR does
    again = resolve_calibrated(d, resolve_sampler=resolve_sampler, resolve_descriptor=resolve_descriptor)
    assert np.array_equal(again(3, 300).x, cal(3, 300).x)


def test_files_are_json_and_npy_only(fitted, tmp_path):
    d = save(fitted["rejection"], tmp_path / "c")
    files = sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
    assert files[0] == MANIFEST and all(f.startswith("state/") and f.endswith(".npy") for f in files[1:])
    doc = json.loads((d / MANIFEST).read_text())  # strict JSON: no NaN or Infinity in it
    json.dumps(doc, allow_nan=False)
    for f in files[1:]:
        np.load(d / f, allow_pickle=False)  # plain arrays, nothing to unpickle
    assert doc["sampler"] == {
        "spec": SPEC,
        "latent_dim": None,
        "identity": bb.identity_of(PlantedSphere(12, (0.08, 0.04), 0.12)),
    }


def test_same_fit_same_identity_and_resave_replaces(fitted, world, tmp_path):
    d = save(fitted["voronoi"], tmp_path / "c")
    first = json.loads((d / MANIFEST).read_text())["identity"]
    save(fitted["voronoi"], d)  # the same state again: same files, same identity
    assert json.loads((d / MANIFEST).read_text())["identity"] == first
    save(fitted["gmm"], d)  # another state into the same directory: the old arrays are removed
    doc = json.loads((d / MANIFEST).read_text())
    assert doc["method"] == "gmm" and {p.name for p in (d / "state").iterdir()} == set(doc["files"])
    assert isinstance(load_calibrated(d, model=world), type(fitted["gmm"]))


def test_altered_array_is_refused(fitted, world, tmp_path):
    d = save(fitted["rejection"], tmp_path / "c")
    p_file = next((d / "state").glob("state.p-*.npy"))
    p = np.load(p_file)
    np.save(p_file, p * 0.5)  # a valid .npy, but not the one saved
    with pytest.raises(CalibratedFileError, match="was altered"):
        load_calibrated(d, model=world, descriptor=bb.identity_descriptor)


def test_edited_manifest_is_refused(fitted, world, tmp_path):
    d = save(fitted["rejection"], tmp_path / "c")
    doc = json.loads((d / MANIFEST).read_text())
    doc["state"]["fields"]["region"]["fields"]["r0"] = 0.4  # a scalar of the state, edited
    (d / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(CalibratedFileError, match="was edited"):
        load_calibrated(d, model=world, descriptor=bb.identity_descriptor)


def test_missing_file_and_foreign_path_are_refused(fitted, world, tmp_path):
    d = save(fitted["gmm"], tmp_path / "c")
    victim = next((d / "state").iterdir())
    victim.unlink()
    with pytest.raises(CalibratedFileError, match="is missing"):
        load_calibrated(d, model=world)
    d = save(fitted["gmm"], tmp_path / "e")
    doc = json.loads((d / MANIFEST).read_text())
    name = next(iter(doc["files"]))
    doc["files"]["../../outside.npy"] = doc["files"].pop(name)
    (d / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(CalibratedFileError):  # the digest catches it first; the name check backs it up
        load_calibrated(d, model=world)
    with pytest.raises(CalibratedFileError, match="does not exist"):
        load_calibrated(tmp_path / "nothing-here", model=world)


def test_another_model_is_refused(fitted, tmp_path):
    d = save(fitted["voronoi"], tmp_path / "c")
    with pytest.raises(CalibratedFileError, match="fitted on model"):
        load_calibrated(d, model=PlantedSphere(dim=12, masses=(0.08, 0.05), spread=0.12))
    with pytest.raises(CalibratedFileError, match="fitted on descriptor"):
        load_calibrated(
            save(fitted["rejection"], tmp_path / "r"), model=PlantedSphere(12, (0.08, 0.04), 0.12), descriptor=bb.unit
        )


def test_python_model_without_spec(tmp_path):
    w = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)

    def generate(z):  # 8% of the outputs land next to e_0
        x = np.tanh(z @ w)
        stuck = z[:, 0] > 1.4
        x[stuck] = 0.1 * x[stuck] + np.eye(8, dtype=np.float32)[0]
        return x

    model = bb.with_latents(generate, 6)
    cal = calibrate(model, bb.unit, np.eye(8)[:1], r0=0.15, method="voronoi", n_fit=2000, n_clusters=10, n_planned=10)
    d = save_calibrated(cal, tmp_path / "py").parent
    with pytest.raises(CalibratedFileError, match="no SPEC"):
        resolve_calibrated(d, resolve_sampler=resolve_sampler, resolve_descriptor=resolve_descriptor)
    back = load_calibrated(d, model=model)
    assert np.array_equal(back(4, 200).x, cal(4, 200).x)
