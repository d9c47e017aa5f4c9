"""The bbcollapse command line, and the examples of docs/blackbox.md (executed as written)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bbcollapse.blackbox import identity_descriptor
from bbcollapse.cli import main, parse_spec, resolve_sampler
from bbcollapse.diagnosis import diagnose
from bbcollapse.subjects.synthetic import PlantedSphere
from helpers import doc_blocks, run_doc_blocks

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCRIPT = BIN / "bbcollapse"


def run_main(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_synthetic_cli_matches_the_api(tmp_path, capsys):
    argv = [
        "diagnose",
        "--sampler",
        "synthetic:dim=16,masses=[0.08,0.03],spread=0.1",
        "--anchors",
        "120",
        "--samples",
        "1500",
        "--seed",
        "3",
        "--theta",
        "0.35",
        "--r",
        "0.2",
        "--top",
        "2",
        "--shard-size",
        "500",
        "--out",
        str(tmp_path / "out"),
    ]
    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    assert "MCCS(I_w)" in out and "report.json" in out
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    ref = diagnose(
        PlantedSphere(dim=16, masses=(0.08, 0.03), spread=0.1),
        identity_descriptor,
        n_anchors=120,
        n_samples=1500,
        seed=3,
        theta=0.35,
        r=0.2,
        top=2,
        shard_size=500,
        progress=False,
    )
    np.testing.assert_array_equal(doc["mccs"], ref.mccs)
    assert doc["worst"] == ref.worst and doc["modes"] == ref.modes.tolist()
    assert (tmp_path / "out" / "curves.png").exists() and (tmp_path / "out" / "mccs_hist.png").exists()
    code, out, err = run_main(argv[:-1] + [str(tmp_path / "quiet"), "--quiet"], capsys)
    assert code == 0 and out == "" and err == ""


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["diagnose", "--sampler", "nosuch", "--anchors", "10", "--samples", "10", "--out", "o"],
            "unknown sampler 'nosuch'; built-ins are",
        ),
        (
            ["diagnose", "--sampler", "synthetic", "--anchors", "1", "--samples", "10", "--out", "o"],
            "--anchors must be an integer >= 2",
        ),
        (
            ["diagnose", "--sampler", "synthetic", "--anchors", "ten", "--samples", "10", "--out", "o"],
            "argument --anchors: expected a positive integer",
        ),
        (
            ["diagnose", "--sampler", "synthetic", "--anchors", "10", "--samples", "10", "--out", "o", "--theta", "2"],
            "argument --theta: expected a normalised angular distance in (0, 1]",
        ),
        (
            ["diagnose", "--sampler", "synthetic", "--anchors", "10", "--samples", "10"],
            "the following arguments are required: --out",
        ),
        (
            ["diagnose", "--sampler", "synthetic:dim", "--anchors", "10", "--samples", "10", "--out", "o"],
            "write options as synthetic:key=value",
        ),
        (
            ["diagnose", "--sampler", "synthetic:dim=2", "--anchors", "10", "--samples", "10", "--out", "o"],
            "bad options for sampler 'synthetic': dim must be >= 3",
        ),
        (
            ["diagnose", "--sampler", "cmd:python gen.py", "--anchors", "10", "--samples", "10", "--out", "o"],
            "--latent-dim is required for a cmd sampler",
        ),
        (["diagnose", "--sampler", "cmd:", "--anchors", "10", "--samples", "10", "--out", "o"], "cmd: needs a command"),
        (
            ["diagnose", "--sampler", "onnx:missing.onnx", "--anchors", "10", "--samples", "10", "--out", "o"],
            "does not exist; check the path",
        ),
        (
            [
                "diagnose",
                "--sampler",
                "synthetic",
                "--descriptor",
                "nope",
                "--anchors",
                "10",
                "--samples",
                "10",
                "--out",
                "o",
            ],
            "unknown descriptor 'nope'",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (
            ["diagnose", "--sampler", "onnx:" + __file__, "--anchors", "10", "--samples", "10", "--out", "o"],
            "cannot load ONNX model",
        ),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit from inside parse_args
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("bbcollapse: error:")
    assert "Traceback" not in err


def test_runtime_failures_are_one_clear_error(tmp_path, capsys):
    script = tmp_path / "broken.py"
    script.write_text(
        "import sys\nsys.stdin.buffer.read()\nsys.stderr.write('model weights not found\\n')\nsys.exit(4)\n"
    )
    argv = [
        "diagnose",
        "--sampler",
        f"cmd:{sys.executable} {script}",
        "--latent-dim",
        "4",
        "--anchors",
        "10",
        "--samples",
        "10",
        "--out",
        str(tmp_path / "o"),
    ]
    code, _, err = run_main(argv, capsys)
    assert code == 1
    assert "exited with status 4" in err and "model weights not found" in err and "Traceback" not in err
    # reusing a store with another configuration
    base = [
        "diagnose",
        "--anchors",
        "10",
        "--samples",
        "50",
        "--out",
        str(tmp_path / "o"),
        "--store",
        str(tmp_path / "st"),
        "--quiet",
    ]
    assert run_main(base + ["--sampler", "synthetic:dim=8"], capsys)[0] == 0
    code, _, err = run_main(base + ["--sampler", "synthetic:dim=8", "--seed", "1"], capsys)
    assert code == 2 and "was made with another configuration (seed: stored 0, requested 1)" in err


def test_defaults_are_the_diagnose_config_defaults():
    from bbcollapse.cli import build_parser
    from bbcollapse.diagnosis import DiagnoseConfig

    args = build_parser().parse_args(
        ["diagnose", "--sampler", "synthetic", "--anchors", "2", "--samples", "1", "--out", "o"]
    )
    defaults = DiagnoseConfig()
    names = ("seed", "theta", "r", "top", "form", "shard_size", "k", "n_random", "grid", "scoring", "select_by")
    for name in (*names, "alpha", "precision"):
        assert getattr(args, name) == getattr(defaults, name), name
    # and the documented values themselves (the paper's code defaults)
    assert (args.seed, args.theta, args.r, args.top, args.form, args.shard_size) == (0, 0.3, 0.25, 10, "code", 4096)


def test_specs():
    assert parse_spec("onnx:model.onnx") == ("onnx", "model.onnx")
    assert parse_spec("gen.onnx") == ("onnx", "gen.onnx")
    assert parse_spec("cmd:python my_gen.py --flag 'a b'") == ("cmd", "python my_gen.py --flag 'a b'")
    assert parse_spec("http://127.0.0.1:8000/sample") == ("http", "http://127.0.0.1:8000/sample")
    assert parse_spec("synthetic:dim=8") == ("builtin", "synthetic:dim=8")
    gen = resolve_sampler("cmd:python my_gen.py --flag 'a b'", latent_dim=3)
    assert gen.argv == ["python", "my_gen.py", "--flag", "a b"]  # shlex, not a shell
    ps = resolve_sampler("synthetic:dim=8,masses=[0.1,0.2],spread=0.2")
    assert ps.masses == (0.1, 0.2) and ps.dim == 8 and ps.spread == 0.2


def test_console_script_help():
    out = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "diagnose" in out.stdout
    out = subprocess.run([str(SCRIPT), "diagnose", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "onnx:FILE" in out.stdout and "--latent-dim" in out.stdout
    out = subprocess.run(
        [str(SCRIPT), "diagnose", "--sampler", "synthetic"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_docs_examples_run(tmp_path, monkeypatch):
    runnable = [kind for kind, _ in doc_blocks(ROOT / "docs" / "blackbox.md") if kind in ("python", "bash")]
    assert len(runnable) >= 5
    monkeypatch.chdir(tmp_path)
    run_doc_blocks(ROOT / "docs" / "blackbox.md")
    for out in ("synthetic", "onnx", "cmd", "py"):
        assert (tmp_path / "results" / out / "report.json").exists(), out
    synthetic = json.loads((tmp_path / "results" / "synthetic" / "report.json").read_text())
    assert synthetic["worst_mccs"] > synthetic["mu"] + 2 * synthetic["sigma"]  # what the text claims
    assert (tmp_path / "cache" / "my_gen" / "samples" / "manifest.json").exists()
