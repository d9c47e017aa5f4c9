"""Chapter 3's ledger rules (book/ledger_faces.py): the Table 1 analogue and the truncation orderings.

The planted result has the shape notebooks/03_face_subject.py writes (``table1[generator]["ArcFace"]``
as ``Table1Row.summary()``); the paper's ranges (mu 0.31-0.48, sigma 0.05-0.07, MCCS(I_w) 0.56-0.72,
paper 000 Table 1) are typed here, not read from the module.
"""

from __future__ import annotations

import copy

import pytest

from book.ledger import grade_claims
from book.ledger_faces import grade_faces

CH = "03_face_subject"
NAMES = {
    "1.1.1": ("DCGAN 1.1.1", "DCGAN 1.1.1, ψ=0.7", "DCGAN 1.1.1, ψ=0.5"),
    "1.0.1": ("DCGAN 1.0.1", "DCGAN 1.0.1, ψ=0.7", "DCGAN 1.0.1, ψ=0.5"),
}
MU_ORDER, WORST_ORDER = "On faces, mu of MCCS rises", "On faces, MCCS(I_w) rises"


def summary(mu, worst, sigma=0.06, half=0.01):
    return {
        "theta": 0.39,
        "r": 0.27,
        "mu": mu,
        "mu_ci": [mu - half, mu + half],
        "sigma": sigma,
        "sigma_ci": [sigma - 0.005, sigma + 0.005],
        "mccs_worst": worst,
        "mccs_worst_ci": [worst - 2 * half, worst + 2 * half],
        "mccs_worst_on_selection": worst + 0.05,
        "n_anchors": 200,
        "n_score": 600,
    }


def good():
    # inside the paper's ranges; mu and MCCS(I_w) rise with clear gaps as psi falls (1, 0.7, 0.5)
    table = {}
    for names in NAMES.values():
        for name, mu, worst in zip(names, (0.35, 0.40, 0.45), (0.58, 0.64, 0.70)):
            table[name] = {"ArcFace": summary(mu, worst), "dlib": summary(mu + 0.01, worst)}
    return {CH: {"scale": "default", "table1": table, "descriptor_agreement": {"mu_rises_as_psi_falls": {"x": True}}}}


def graded(res, prefix):
    rows = [r for r in grade_faces(res) if r["claim"].startswith(prefix)]
    assert rows, prefix
    return [r["grade"] for r in rows]


def test_good_result():
    res = good()
    assert graded(res, "Table 1 analogue") == ["partly reproduced"] * 6  # a substitute: never "reproduced"
    assert graded(res, MU_ORDER) == ["reproduced"]
    assert graded(res, WORST_ORDER) == ["reproduced"]


def _set(name, key, value, col="ArcFace"):
    def mutate(res):
        res[CH]["table1"][name][col][key] = value

    return mutate


@pytest.mark.parametrize(
    "key, interval",
    [("mu_ci", [0.50, 0.55]), ("mu_ci", [0.20, 0.30]), ("sigma_ci", [0.09, 0.11]), ("mccs_worst_ci", [0.40, 0.52])],
)
def test_a_generator_outside_a_range_is_not_reproduced(key, interval):
    res = good()
    _set("DCGAN 1.0.1, ψ=0.7", key, interval)(res)
    grades = graded(res, "Table 1 analogue")
    assert grades.count("not reproduced") == 1 and grades.count("partly reproduced") == 5
    row = next(r for r in grade_faces(res) if r["claim"].startswith("Table 1 analogue: DCGAN 1.0.1, ψ=0.7"))
    assert row["grade"] == "not reproduced" and "outside" in row["ours"]


def test_an_interval_touching_a_range_counts_as_overlap():
    res = good()
    _set("DCGAN 1.1.1", "mu_ci", [0.48, 0.52])(res)  # the paper's PGGAN mu is 0.48
    assert graded(res, "Table 1 analogue: DCGAN 1.1.1 ")[0] == "partly reproduced"


def test_only_the_main_descriptor_column_is_graded():
    res = good()
    _set("DCGAN 1.1.1", "mu_ci", [0.90, 0.95], col="dlib")(res)
    assert graded(res, "Table 1 analogue") == ["partly reproduced"] * 6


def _overlap_middle(ckpt, key="mu_ci"):
    def mutate(res):  # psi = 0.7's interval reaches into psi = 1's; the ends stay apart
        res[CH]["table1"][NAMES[ckpt][1]]["ArcFace"][key] = [0.34, 0.41] if key == "mu_ci" else [0.57, 0.66]

    return mutate


def _reverse(ckpt, key="mu_ci"):
    def mutate(res):  # diversity does not fall: psi = 0.5 no higher than psi = 1
        lo, hi = res[CH]["table1"][NAMES[ckpt][0]]["ArcFace"][key]
        res[CH]["table1"][NAMES[ckpt][2]]["ArcFace"][key] = [lo - 0.001, hi - 0.001]

    return mutate


@pytest.mark.parametrize(
    "prefix, key, mutations, expected",
    [
        (MU_ORDER, "mu_ci", ("overlap 1.1.1",), "partly reproduced"),
        (MU_ORDER, "mu_ci", ("reverse 1.1.1",), "partly reproduced"),  # 1.0.1 still ordered
        (MU_ORDER, "mu_ci", ("reverse 1.1.1", "reverse 1.0.1"), "not reproduced"),
        (MU_ORDER, "mu_ci", ("overlap 1.1.1", "overlap 1.0.1"), "partly reproduced"),
        (WORST_ORDER, "mccs_worst_ci", ("overlap 1.0.1",), "partly reproduced"),
        (WORST_ORDER, "mccs_worst_ci", ("reverse 1.1.1", "reverse 1.0.1"), "not reproduced"),
    ],
)
def test_orderings_fail_when_intervals_do_not_separate(prefix, key, mutations, expected):
    res = good()
    for m in mutations:
        how, ckpt = m.split()
        (_overlap_middle if how == "overlap" else _reverse)(ckpt, key)(res)
    assert graded(res, prefix) == [expected]
    other = WORST_ORDER if prefix == MU_ORDER else MU_ORDER
    assert graded(res, other) == ["reproduced"]  # each ordering reads its own column


def test_smoke_absent_and_old_results():
    res = good()
    res[CH]["scale"] = "smoke"
    rows = [r for r in grade_faces(res) if r["chapter"] == CH]
    assert len(rows) == 8 and {r["grade"] for r in rows} == {"not run here"}
    assert {r["grade"] for r in grade_faces({}) if r["chapter"] == CH} == {"missing result"}
    res = good()
    del res[CH]["table1"]  # a chapter 3 result written before the Table 1 analogue
    assert {r["grade"] for r in grade_faces(res) if r["chapter"] == CH} == {"missing result"}
    res = good()
    del res[CH]["table1"]["DCGAN 1.0.1, ψ=0.5"]
    assert graded(res, "Table 1 analogue: DCGAN 1.0.1, ψ=0.5") == ["missing result"]
    assert graded(res, MU_ORDER) == ["missing result"]


def test_the_ledger_lists_chapter_3_and_leaves_results_alone():
    res = good()
    before = copy.deepcopy(res)
    rows = [r for r in grade_claims(res) if r["chapter"] == CH]
    assert len(rows) == 8
    assert res == before
