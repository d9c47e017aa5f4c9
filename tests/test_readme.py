"""The README's loop runs as written: diagnose a plain generator, read the decision, calibrate, save, diagnose
the calibrated model, serve it and diagnose it through the HTTP black box (issue 18, must-deliver 8).

Every ```python and ```bash block of README.md runs, in order, in one temporary directory (```sh blocks are
the set-up commands, ```console blocks show output).  The checks below are what the README's text claims.
"""

import json
from pathlib import Path

import pytest

from helpers import doc_blocks, run_doc_blocks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_readme_loop_runs_as_written(tmp_path, monkeypatch, capsys):
    runnable = [kind for kind, _ in doc_blocks(ROOT / "README.md") if kind in ("python", "bash")]
    assert runnable == ["python", "python", "bash"]
    monkeypatch.chdir(tmp_path)
    namespace = run_doc_blocks(ROOT / "README.md", OMP_NUM_THREADS="1")
    out = capsys.readouterr().out
    # the Python loop: a decision with a p-value, a plan, and a calibrated model with a lower MCCS(I_w)
    report, after = namespace["report"], namespace["after"]
    assert "decision    I_w denser than the median anchor at 5%" in out and "plan " in out
    assert report.decision["reject"] and report.plan["n_samples_needed"] > 0
    assert after.worst_mccs < report.worst_mccs - 0.3  # the planted 16% collapse is what rejection removes
    assert (tmp_path / "results" / "mine" / "report.html").exists()
    assert (tmp_path / "calibrated" / "mine").is_dir()
    assert not list((tmp_path / "calibrated").rglob("*.pkl")) and not list((tmp_path / "calibrated").rglob("*.pt"))
    # the command-line loop
    docs = {name: json.loads((tmp_path / "results" / name / "report.json").read_text())
            for name in ("before", "after", "served")}  # fmt: skip
    before, after_cli, served = docs["before"], docs["after"], docs["served"]
    assert before["decision"]["reject"] and "subject default" in before["theta_r_source"]["theta"]
    for doc in (after_cli, served):  # the calibrated model, saved and served, is diagnosed with the original's theta, r
        assert (doc["config"]["theta"], doc["config"]["r"]) == (before["config"]["theta"], before["config"]["r"])
    assert "served by http://127.0.0.1:8765" in served["theta_r_source"]["theta"]
    assert served["worst_mccs"] < before["worst_mccs"] - 0.05 and after_cli["worst_mccs"] < before["worst_mccs"] - 0.05
    comparison = json.loads((tmp_path / "calibrated" / "synthetic" / "comparison.json").read_text())
    assert comparison["old_worst"]["difference_ci"][1] < 0  # fresh samples of equal size: the old I_w is thinner
