"""Chapter 8's ledger rules (book/ledger_metrics.py) pass a planted good result and fail planted bad ones.

The planted results have the shape notebooks/08_metrics.py writes (``subjects -> conditions -> power``
with Clopper-Pearson ``power_ci95``); the intervals are typed here from the rules' wording, not taken
from the module.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from book.ledger import grade_claims
from book.ledger_common import GRADES
from book.ledger_metrics import grade_metrics

ROOT = Path(__file__).resolve().parents[1]
DETECTS = "MCCS(I_w) detects planted"
BLIND = "The Fréchet distance is blind"
SEES = "MCCS(I_w) sees intra-mode collapse"


def cell(power, lo, hi, fa=0.04, fa_ci=(0.005, 0.137)):
    return {"power": power, "power_ci95": [lo, hi], "false_alarm": fa, "false_alarm_ci95": list(fa_ci)}


HIGH, LOW = cell(1.0, 0.83, 1.0), cell(0.05, 0.001, 0.25)
READOUTS = ("mccs.worst", "frechet", "2nd frechet")


def condition(kind, level, mccs=HIGH, fd=LOW, fd2=LOW):
    return {"kind": kind, "level": level, "power": {"mccs.worst": mccs, "frechet": fd, "2nd frechet": fd2}}


def subject():
    return {
        "readouts": list(READOUTS),
        "labels": {"mccs.worst": "MCCS(I_w)", "frechet": "Fréchet (F_id)", "2nd frechet": "Fréchet (2nd)"},
        "conditions": [
            condition("exact", 0.05, mccs=cell(0.5, 0.27, 0.73)),
            condition("exact", 0.1),
            condition("exact", 0.2),
            condition("jittered", 0.1),
            condition("truncation", 0.6, fd=HIGH),  # not a planted-duplicate condition: never compared
        ],
    }


def good():
    return {
        "08_metrics": {
            "scale": "default",
            "alpha": 0.05,
            "reference_level": 0.1,
            "sizes": {"n": 500, "r": 20, "r0": 50},
            "subjects": {"faces": subject(), "lab": subject()},
        }
    }


def grades(res, prefix):
    rows = [r for r in grade_metrics(res) if r["claim"].startswith(prefix)]
    assert len(rows) == 1, prefix
    return rows[0]["grade"]


def _cond(res, subj, kind, level):
    return next(
        c for c in res["08_metrics"]["subjects"][subj]["conditions"] if (c["kind"], c["level"]) == (kind, level)
    )


def test_good_result_reproduces_every_claim():
    res = good()
    for prefix in (DETECTS, BLIND, SEES):
        assert grades(res, prefix) == "reproduced", prefix


def test_every_row_states_its_rule_and_reads_the_intervals():
    rows = grade_metrics(good())
    assert len(rows) == 3
    for r in rows:
        assert r["grade"] in GRADES and r["rule"] and r["chapter"] == "08_metrics"
        assert "[0.83, 1.00]" in r["ours"] or "MCCS above at [" in r["ours"]


def _set_power(subjects, kind, level, key, value):
    def mutate(res):
        for s in subjects:
            _cond(res, s, kind, level)["power"][key] = copy.deepcopy(value)

    return mutate


def _both(*mutations):
    def mutate(res):
        for m in mutations:
            m(res)

    return mutate


def _weak_mccs(subjects):
    return _set_power(subjects, "jittered", 0.1, "mccs.worst", cell(0.15, 0.03, 0.38))


BOTH, ONE = ("faces", "lab"), ("lab",)
BAD = [
    # MCCS(I_w)'s power interval reaches down to alpha at the reference share
    (DETECTS, _set_power(BOTH, "exact", 0.1, "mccs.worst", cell(0.15, 0.03, 0.38)), "not reproduced"),
    (DETECTS, _set_power(ONE, "exact", 0.1, "mccs.worst", cell(0.15, 0.03, 0.38)), "partly reproduced"),
    # a test that does not hold its level: the false-alarm interval lies above alpha
    (DETECTS, _set_power(BOTH, "exact", 0.1, "mccs.worst", cell(1.0, 0.83, 1.0, 0.3, (0.18, 0.44))), "not reproduced"),
    # a Fréchet distance detects the collapse at the reference share (either of the two)
    (BLIND, _set_power(BOTH, "exact", 0.1, "frechet", cell(0.65, 0.41, 0.85)), "not reproduced"),
    (BLIND, _set_power(BOTH, "exact", 0.1, "2nd frechet", cell(0.65, 0.41, 0.85)), "not reproduced"),
    (BLIND, _set_power(ONE, "exact", 0.1, "frechet", cell(0.65, 0.41, 0.85)), "partly reproduced"),
    # the Fréchet distance's interval lies above MCCS(I_w)'s somewhere (chapter 8's measured pattern)
    (SEES, _both(_set_power(BOTH, "jittered", 0.1, "frechet", HIGH), _weak_mccs(BOTH)), "not reproduced"),
    (SEES, _set_power(BOTH, "exact", 0.05, "2nd frechet", HIGH), "not reproduced"),
    (SEES, _both(_set_power(ONE, "jittered", 0.1, "frechet", HIGH), _weak_mccs(ONE)), "partly reproduced"),
    # MCCS weak at the jittered share, but no Fréchet distance above it: still agrees (MCCS above elsewhere)
    (SEES, _weak_mccs(BOTH), "reproduced"),
]


@pytest.mark.parametrize("prefix, mutate, expected", BAD, ids=[f"{b[0][:20]}-{i}" for i, b in enumerate(BAD)])
def test_each_rule_fails_a_wrong_result(prefix, mutate, expected):
    res = good()
    assert grades(res, prefix) == "reproduced"
    mutate(res)
    assert grades(res, prefix) == expected


def test_metrics_that_see_it_as_well_as_mccs_are_only_partly():
    """Overlapping intervals everywhere: MCCS is not above, the Fréchet distance not above either."""
    res = good()
    for s in BOTH:
        for c in res["08_metrics"]["subjects"][s]["conditions"]:
            if c["kind"] != "truncation":
                c["power"]["frechet"] = copy.deepcopy(c["power"]["mccs.worst"])
    assert grades(res, SEES) == "partly reproduced"
    assert grades(res, BLIND) == "not reproduced"


def test_mccs_must_clear_every_frechet_distance():
    res = good()
    for s in BOTH:
        for c in res["08_metrics"]["subjects"][s]["conditions"]:
            c["power"]["2nd frechet"] = cell(0.9, 0.68, 0.99)  # overlaps MCCS everywhere, never wholly above
    assert grades(res, SEES) == "partly reproduced"


def test_smoke_absent_and_incomplete_results():
    res = good()
    res["08_metrics"]["scale"] = "smoke"
    assert {r["grade"] for r in grade_metrics(res)} == {"not run here"}
    assert {r["grade"] for r in grade_metrics({})} == {"missing result"}
    res = good()
    res["08_metrics"]["reference_level"] = 0.15  # no condition at that share
    assert {r["grade"] for r in grade_metrics(res)} == {"missing result"}


def test_the_ledger_includes_chapter_8_and_does_not_modify_results():
    res = good()
    before = copy.deepcopy(res)
    rows = [r for r in grade_claims(res) if r["chapter"] == "08_metrics"]
    assert [r["grade"] for r in rows] == ["reproduced"] * 3
    assert res == before


@pytest.mark.parametrize("chapter", ["03_face_subject", "08_metrics", "09_remedies"])
def test_the_committed_results_grade_without_error(chapter):
    """The rules read the keys the notebooks write (a renamed key fails here, not in the book build)."""
    path = ROOT / "data" / "results" / f"{chapter}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not built")
    rows = [r for r in grade_claims({chapter: json.loads(path.read_text())}) if r["chapter"] == chapter]
    assert rows and all(r["grade"] in GRADES for r in rows)
