"""``bbcollapse diagnose``'s options for modes, scoring, images, Dask and peer metrics, run through the real CLI.

Each option's output is checked against a computation that does not go through it: the Python
API, a float64 brute force, closed forms of the Vendi score and the Fréchet distance, or the
generator called directly.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.cli import main, resolve_sampler
from bbcollapse.diagnosis.html import image_batch
from bbcollapse.subjects.synthetic import PlantedSphere

SPEC = "synthetic:dim=12,masses=[0.08,0.04],spread=0.12"
WORLD = dict(dim=12, masses=(0.08, 0.04), spread=0.12)
BASE = ["diagnose", "--sampler", SPEC, "--anchors", "100", "--samples", "1500", "--shard-size", "500", "--quiet"]


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code, err, message):
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and err.startswith("bbcollapse: error:") and "Traceback" not in err


def api(**kw):
    return bb.diagnose(PlantedSphere(**WORLD), bb.identity_descriptor, n_anchors=100, n_samples=1500,
                       shard_size=500, progress=False, **kw)  # fmt: skip


@pytest.mark.parametrize("scoring, select_by", [("same", "mccs"), ("split", "count"), ("same", "count")])
def test_scoring_and_selection(tmp_path, capsys, scoring, select_by):
    argv = BASE + ["--out", str(tmp_path), "--scoring", scoring, "--select-by", select_by, "--k", "5"]
    argv += ["--n-random", "7", "--grid", "0.1:0.5:9"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "report.json").read_text())
    c = doc["config"]
    assert (c["scoring"], c["select_by"], c["k"], c["n_random"]) == (scoring, select_by, 5, 7)
    np.testing.assert_allclose(doc["grid"], np.linspace(0.1, 0.5, 9))
    assert len(doc["nearest_index"]) == 5 and len(doc["random_anchors"]) == 7
    grid = tuple(np.linspace(0.1, 0.5, 9))
    ref = api(scoring=scoring, select_by=select_by, k=5, n_random=7, grid=grid, theta=c["theta"], r=c["r"])
    assert doc["worst"] == ref.worst and doc["modes"] == ref.modes.tolist()
    np.testing.assert_allclose(doc["mode_mccs"], ref.mode_mccs, rtol=1e-12)
    assert doc["n_select"] == (1500 if scoring == "same" else 750)
    if scoring == "same":  # S = C: I_w is the argmax of what it is ranked by, over all anchors (lowest index on ties)
        key = np.asarray(doc["mccs"] if select_by == "mccs" else doc["counts"])
        assert doc["worst"] == int(np.flatnonzero(key == key.max())[0])


def test_subject_theta_r_are_used_reported_and_overridden(tmp_path, capsys):
    """Without --theta/--r the sphere's own values (the rule on its planted identities) are used and reported;
    each flag overrides its value alone; a sphere without identities falls back to the generic defaults."""
    from bbcollapse.subjects.synthetic import theta_r_default

    own = theta_r_default(PlantedSphere(**WORLD), bb.identity_descriptor)
    generic = bb.DiagnoseConfig()
    assert abs(own["theta"] - generic.theta) > 0.02 and abs(own["r"] - generic.r) > 0.02  # the test can tell them apart
    cases = [
        (["--theta", "0.31", "--r", "0.22"], (0.31, 0.22), ("given (--theta)", "given (--r)")),
        (["--theta", "0.3"], (0.3, own["r"]), ("given (--theta)", "subject default")),  # the generic value, given
        ([], (own["theta"], own["r"]), ("subject default", "subject default")),  # last: its doc is checked below
    ]
    for i, (extra, values, sources) in enumerate(cases):
        code, out, err = run([a for a in BASE if a != "--quiet"] + ["--out", str(tmp_path / str(i)), *extra], capsys)
        assert code == 0, err
        doc = json.loads((tmp_path / str(i) / "report.json").read_text())
        assert (doc["config"]["theta"], doc["config"]["r"]) == values
        assert [doc["theta_r_source"][k].startswith(v) for k, v in zip(("theta", "r"), sources)] == [True, True]
        shown = "theta, r    " if sources[0] == sources[1] else "theta from  given (--theta)"
        assert f"theta={values[0]}  r={values[1]}" in out and shown in out, out
    assert "planted identities" in doc["theta_r_source"]["r"]
    bare = ["diagnose", "--sampler", "synthetic:dim=12,masses=[]", "--anchors", "20", "--samples", "200", "--quiet"]
    code, _, err = run(bare + ["--out", str(tmp_path / "g")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "g" / "report.json").read_text())
    assert (doc["config"]["theta"], doc["config"]["r"]) == (generic.theta, generic.r)
    assert doc["theta_r_source"] == dict.fromkeys(("theta", "r"), doc["theta_r_source"]["theta"])
    assert doc["theta_r_source"]["theta"].startswith("generic default")


def test_a_calibrated_model_is_diagnosed_with_its_originals_theta_r(tmp_path, capsys):
    """calibrated:DIR takes theta and r from DIR/before/report.json (what its original was diagnosed with), not
    the generic defaults, so the numbers of the two diagnoses compare; --theta still overrides."""
    from bbcollapse.subjects.synthetic import theta_r_default

    own = theta_r_default(PlantedSphere(**WORLD), bb.identity_descriptor)
    code, _, err = run(BASE + ["--out", str(tmp_path / "before")], capsys)
    assert code == 0, err
    report = str(tmp_path / "before" / "report.json")
    cal = ["calibrate", "--sampler", SPEC, "--report", report, "--method", "rejection", "--fit", "1500"]
    cal += ["--out", str(tmp_path / "cal")]
    code, _, err = run(cal, capsys)
    assert code == 0, err
    after = [
        "diagnose",
        "--sampler",
        f"calibrated:{tmp_path / 'cal'}",
        "--anchors",
        "50",
        "--samples",
        "600",
        "--quiet",
    ]
    for extra, theta in (([], own["theta"]), (["--theta", "0.3"], 0.3)):
        code, _, err = run(after + ["--out", str(tmp_path / f"after{theta}"), *extra], capsys)
        assert code == 0, err
        doc = json.loads((tmp_path / f"after{theta}" / "report.json").read_text())
        assert (doc["config"]["theta"], doc["config"]["r"]) == (theta, own["r"])
        assert doc["theta_r_source"]["r"].startswith("the calibrated model's original diagnosis")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--scoring", "both"], "argument --scoring: invalid choice: 'both'"),
        (["--select-by", "size"], "argument --select-by: invalid choice: 'size'"),
        (["--grid", "0.5:0.1:3"], "argument --grid: expected increasing distances in (0, 1]"),
        (["--grid", "a,b"], "argument --grid: expected START:STOP:COUNT"),
        (["--k", "0"], "argument --k: expected a positive integer"),
        (["--n-random", "-1"], "argument --n-random: expected a non-negative integer"),
        (["--metrics", "fid"], "argument --metrics: unknown metric(s) ['fid']"),
        (["--metrics", "kid"], "--metrics kid compare with a reference set: add --reference"),
        (["--metrics", "vendi", "--reference", "missing.npy"], "--reference 'missing.npy': no such file"),
        (["--reference", f"{SPEC}"], "--reference and --metrics-n go with --metrics"),
        (["--images", "im"], "--images: the sampler's outputs of shape (12,) are not images"),
        (["--dask", "local", "--store", "st"], "--dask runs keep no store"),
    ],
)
def test_bad_values_give_one_line_and_status_2(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    one_line_error(*run(BASE + ["--out", "o"] + extra, capsys)[::2], message)


def test_dask_missing_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if dask were not installed
    code, _, err = run(BASE + ["--out", str(tmp_path), "--dask", "local"], capsys)
    one_line_error(code, err, "--dask needs dask.distributed: pip install 'bbcollapse[distributed]'")


def test_dask_local_equals_the_local_run(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    code, _, err = run(BASE + ["--out", str(tmp_path), "--dask", "local"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "report.json").read_text())
    ref = api(theta=doc["config"]["theta"], r=doc["config"]["r"])
    assert doc["counts"] == ref.counts.tolist() and doc["worst"] == ref.worst and doc["modes"] == ref.modes.tolist()
    np.testing.assert_allclose(doc["mccs"], ref.mccs, rtol=1e-9)  # similarity sums added in another order
    np.testing.assert_allclose(doc["mode_mccs"], ref.mode_mccs, rtol=1e-9)


def stream(world, n, *, seed=0, stream_id, shard_size=500):
    """Rows 0..n-1 of a seed stream, drawn shard by shard straight from the world (no library draw routine)."""
    parts, left, j = [], n, 0
    while left > 0:
        n_j = min(shard_size, left)
        parts.append(world(bb.shard_seed(seed, stream_id, j), n_j).x)
        left, j = left - n_j, j + 1
    return np.concatenate(parts).astype(np.float64)


def vendi_closed_form(x) -> float:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(x.T @ x / len(x))  # the nonzero eigenvalues of K / n, K = X X^T
    lam = lam[lam > 1e-15]
    return float(np.exp(-(lam * np.log(lam)).sum()))


def frechet_closed_form(a, b) -> float:
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)).sum()  # Tr (S1 S2)^(1/2)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_cross)


def test_metrics_against_closed_forms(tmp_path, capsys):
    reference = "synthetic:dim=12,masses=[],spread=0.12"  # the same sphere without its planted identities
    argv = BASE + ["--out", str(tmp_path), "--metrics", "vendi,frechet,birthday", "--reference", reference]
    code, _, err = run(argv + ["--metrics-n", "800"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "report.json").read_text())
    m = doc["metrics"]
    assert set(m) == {"vendi", "frechet", "birthday"}
    x = stream(PlantedSphere(**WORLD), 800, stream_id=3)
    r = stream(PlantedSphere(dim=12, masses=(), spread=0.12), 800, stream_id=4)
    assert m["vendi"]["value"] == pytest.approx(vendi_closed_form(x), rel=1e-6)
    assert m["frechet"]["value"] == pytest.approx(frechet_closed_form(r, x), rel=1e-6)
    assert m["frechet"]["n_reference"] == 800 and m["frechet"]["n_samples"] == 800
    assert m["birthday"]["radius"] == doc["config"]["r"] and m["birthday"]["batch_size"] == 200
    # and the collapsed model is less diverse than its reference, as the metric should say
    assert m["vendi"]["value"] < vendi_closed_form(r)


def test_metrics_with_an_npy_reference(tmp_path, capsys):
    ref = stream(PlantedSphere(dim=12, masses=(), spread=0.12), 600, stream_id=7).astype(np.float32)
    np.save(tmp_path / "ref.npy", ref)
    argv = BASE + ["--out", str(tmp_path / "o"), "--metrics", "frechet", "--reference", str(tmp_path / "ref.npy")]
    code, _, err = run(argv + ["--metrics-n", "600"], capsys)
    assert code == 0, err
    value = json.loads((tmp_path / "o" / "report.json").read_text())["metrics"]["frechet"]["value"]
    x = stream(PlantedSphere(**WORLD), 600, stream_id=3)
    assert value == pytest.approx(frechet_closed_form(bb.unit(ref).astype(np.float64), x), rel=1e-5)


GENERATOR = """
import io, sys
import numpy as np
z = np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False)
W = np.random.default_rng(0).standard_normal((6, 16 * 16 * 3)).astype(np.float32)
x = np.tanh(z @ W).reshape(-1, 16, 16, 3)
x[z[:, 0] > 1.0] = np.tanh(W[0].reshape(16, 16, 3))   # 16% of the outputs: one image
buf = io.BytesIO(); np.save(buf, x.astype(np.float32)); sys.stdout.buffer.write(buf.getvalue())
"""
DESCRIPTOR = """
import io, sys
import numpy as np
x = np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False).reshape(-1, 16 * 16 * 3).astype(np.float64)
e = x / np.linalg.norm(x, axis=1, keepdims=True)
buf = io.BytesIO(); np.save(buf, e.astype(np.float32)); sys.stdout.buffer.write(buf.getvalue())
"""


def test_images_show_the_drawn_outputs(tmp_path, capsys):
    from matplotlib.image import imread

    (tmp_path / "gen.py").write_text(GENERATOR)
    (tmp_path / "desc.py").write_text(DESCRIPTOR)
    gen = f"cmd:{sys.executable} {tmp_path / 'gen.py'}"
    argv = ["diagnose", "--sampler", gen, "--latent-dim", "6", "--descriptor", f"cmd:{sys.executable} "
            f"{tmp_path / 'desc.py'}", "--anchors", "60", "--samples", "600", "--shard-size", "200", "--k", "4",
            "--top", "3", "--out", str(tmp_path / "o"), "--images", str(tmp_path / "im"), "--quiet"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    assert sorted(p.name for p in (tmp_path / "im").iterdir()) == ["modes.png", "worst_neighbours.png"]
    grid = np.round(imread(tmp_path / "im" / "worst_neighbours.png")[..., :3] * 255).astype(np.uint8)
    model = resolve_sampler(gen, latent_dim=6)

    def drawn(stream_id, row):  # the generator called directly for the shard that holds ``row``
        j, offset = divmod(row, 200)
        return image_batch(model(bb.shard_seed(0, stream_id, j), 200).x[offset : offset + 1])[0]

    tiles = [grid[2 : 2 + 16, 2 + i * 18 : 2 + i * 18 + 16] for i in range(1 + len(doc["nearest_index"]))]
    np.testing.assert_array_equal(tiles[0], drawn(0, doc["worst"]))
    for tile, row in zip(tiles[1:], doc["nearest_index"]):
        np.testing.assert_array_equal(tile, drawn(1, row))
    page = (tmp_path / "o" / "report.html").read_text()
    listed = sum(doc["counts"][i] > 0 for i in doc["modes"])
    assert page.count("<figure") == 1 + len(doc["nearest_index"]) + listed
