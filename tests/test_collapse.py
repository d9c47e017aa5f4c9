"""The headline case: totally and partially collapsed generators are diagnosed and reported, never crash.

Through the Python API and through the ``bbcollapse diagnose`` console script run as a real
subprocess against a command generator.  Every report.json must be strict JSON (no NaN, no
Infinity), and an exactly collapsed anchor must score the same whatever the float rounding.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.stats import MCCS_CODE_CAP

BIN = Path(sys.executable).parent / "bbcollapse"

GENERATOR = """
import io, sys
import numpy as np
z = np.load(io.BytesIO(sys.stdin.buffer.read()))
mode = sys.argv[1]
x = np.zeros((z.shape[0], 16))
x[:, 0] = 1.0                                   # every output the same point
if mode == "near":                              # the same point up to float rounding
    x[:, 1] = 1e-9 * z[:, 0]
elif mode == "partial":                         # half the outputs collapse, the rest are spread out
    spread = z[:, 0] > 0
    y = np.concatenate([z, z[:, ::-1], -z, z ** 2], axis=1)[:, :16] + 0.1
    x[spread] = y[spread]
x /= np.linalg.norm(x, axis=1, keepdims=True)
buf = io.BytesIO(); np.save(buf, x.astype(np.float32)); sys.stdout.buffer.write(buf.getvalue())
"""


def strict_load(text: str):
    """json.loads that refuses NaN and Infinity, as strict parsers do."""

    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def run_cli(tmp_path, mode, *, anchors, samples, extra=()):
    script = tmp_path / "gen.py"
    script.write_text(GENERATOR)
    out = tmp_path / f"out_{mode}_{anchors}_{samples}"
    argv = [
        str(BIN),
        "diagnose",
        "--sampler",
        f"cmd:{sys.executable} {script} {mode}",
        "--latent-dim",
        "4",
        "--anchors",
        str(anchors),
        "--samples",
        str(samples),
        "--shard-size",
        "100",
        "--out",
        str(out),
        *extra,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return proc, out


@pytest.mark.parametrize("mode", ["total", "near"])
def test_cli_reports_a_totally_collapsed_generator(tmp_path, mode):
    proc, out = run_cli(tmp_path, mode, anchors=20, samples=150)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    doc = strict_load((out / "report.json").read_text())
    assert doc["n_degenerate"] == 20
    assert doc["mu"] == pytest.approx(MCCS_CODE_CAP, rel=1e-12) and doc["sigma"] == pytest.approx(0, abs=1e-9)
    assert doc["worst_mccs"] == MCCS_CODE_CAP and doc["worst_ci"] == [MCCS_CODE_CAP, MCCS_CODE_CAP]
    assert all(v == pytest.approx(MCCS_CODE_CAP, rel=1e-12) for v in doc["mccs"])  # rounding-independent
    for fig in ("curves.png", "mccs_hist.png"):
        assert (out / fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "degenerate" in proc.stdout and "total collapse" in proc.stdout


def test_cli_tiny_sample_sets(tmp_path):
    proc, out = run_cli(tmp_path, "total", anchors=2, samples=2)  # |S| = |T| = 1
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = strict_load((out / "report.json").read_text())
    assert doc["n_select"] == doc["n_score"] == 1 and len(doc["nearest_index"]) == 1  # k = 8 > |T|: no inf padding
    proc, _ = run_cli(tmp_path, "total", anchors=2, samples=1)  # nothing left to score on
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and ">= 2" in proc.stderr


def test_cli_reports_a_partially_collapsed_generator(tmp_path):
    proc, out = run_cli(tmp_path, "partial", anchors=40, samples=400)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = strict_load((out / "report.json").read_text())
    mccs = np.array(doc["mccs"])
    # about half the anchors sit on the collapsed point: MCCS of a mean similarity near 1/2, far above the rest
    on_point = mccs > 2
    assert 0.2 < on_point.mean() < 0.8
    assert doc["worst_mccs"] == pytest.approx(1 / -np.log10(0.5), rel=0.2)
    assert doc["n_degenerate"] == 0 and doc["worst_ci"][0] <= doc["worst_mccs"] <= doc["worst_ci"][1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form, top", [("code", MCCS_CODE_CAP), ("paper", 1.0)])
def test_api_total_collapse_in_every_form(tmp_path, dtype, form, top):
    x = bb.unit(np.random.default_rng(0).standard_normal((1, 64)).astype(dtype))
    a, c = np.repeat(x, 10, 0), np.repeat(x, 300, 0)
    rep = bb.diagnose_embeddings(a, c, form=form, theta=0.4)
    assert (rep.mccs == top).all() and rep.mu == pytest.approx(top) and rep.n_degenerate == 10
    assert rep.worst_mccs == top and rep.worst_ci == (top, top)
    path = rep.save(tmp_path / form)
    back = bb.Report.load(path)
    assert back.n_degenerate == 10 and back.worst_ci == rep.worst_ci
    strict_load(path.read_text())


def test_api_partial_collapse_with_same_scoring_and_selection_by_mccs():
    rng = np.random.default_rng(1)
    spread = bb.unit(rng.standard_normal((600, 12)))
    point = spread[:1]
    c = np.vstack([np.repeat(point, 300, 0), spread[1:301]])[rng.permutation(600)]
    a = np.vstack([point, spread[301:340]])
    for kw in (dict(scoring="same"), dict(select_by="mccs"), {}):
        rep = bb.diagnose_embeddings(a, c, theta=0.3, r=0.2, **kw)
        assert rep.worst == 0 and np.isfinite(rep.mccs).all()
        assert rep.worst_mccs == pytest.approx(1 / -np.log10(0.5), rel=0.15)


def test_report_json_is_replaced_atomically(tmp_path, monkeypatch):
    """A failure while writing leaves the earlier report.json intact, and no temporary file behind."""
    x = bb.unit(np.random.default_rng(2).standard_normal((30, 8)))
    rep = bb.diagnose_embeddings(x[:10], x[10:])
    path = rep.save(tmp_path, figures=False)
    before = path.read_text()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)  # every writer flushes through os.fsync (bbcollapse._atomic)
    with pytest.raises(OSError, match="No space"):
        rep.save(tmp_path, figures=False)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_results_writer_turns_nan_and_inf_into_null_with_a_reason(tmp_path):
    """The book's results files (and report.json) are strict JSON: NaN/inf become null, and the file says why."""
    from bbcollapse.diagnosis.jsonfile import write_json

    doc = {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": np.float32("-inf")}, "ok": np.int64(3), "e": None}
    path = write_json(tmp_path / "r.json", doc, reasons={"/a": "no latent region: not a region test", "/e": "why"})
    back = strict_load(path.read_text())
    assert back["a"] is None and back["b"] == [1.0, None] and back["c"]["d"] is None and back["ok"] == 3
    assert back["null_reasons"]["/a"] == "no latent region: not a region test" and back["null_reasons"]["/e"] == "why"
    assert "infinite" in back["null_reasons"]["/b/1"] and "infinite" in back["null_reasons"]["/c/d"]
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # the mode of a plain write, not mkstemp's
