"""The ledger can say "no": every rule grades a clearly good result as reproduced and fails a bad one.

``good()`` plants chapter results that meet every rule as the rows state it (intervals that cover
the truth and exclude 0, ...); each case of ``BAD`` changes one result the way a wrong measurement
would (an interval that reaches 0, a worst case no denser than a random anchor once scored fresh, a
curve still outside the band, ...) and checks the rule fails.  The planted values are typed here from
the rules, never taken from book/ledger.py.
"""

from __future__ import annotations

import copy

import pytest

from book.ledger import GRADES, grade_claims, ledger_html

# ---------------------------------------------------------------------------- planted results


def ci(lo, hi):
    return [lo, hi]


def change(est, lo, hi, before=0.7, p=0.001):
    """A flattened two-pool comparison (as chapter 4 writes it)."""
    return dict(
        before=before,
        before_ci=ci(before - 0.02, before + 0.02),
        after=before + est,
        after_ci=ci(before + est - 0.02, before + est + 0.02),
        change=est,
        change_ci=ci(lo, hi),
        p=p,
    )


def chapter_01():
    return {
        "identities_recovered": [0, 1, 2],
        "n_identities": 3,
        "worst_identity": 0,
        "mccs_worst": {"measured": 0.77, "ci": ci(0.74, 0.80), "truth": 0.77},
        "median_anchor": {"measured": 0.35, "ci": ci(0.33, 0.37), "truth": 0.35},
        "efficiency": {
            "sizes": [1000, 10_000, 50_000],
            "mccs_worst": [0.70, 0.77, 0.77],
            "n_at_1e4": 10_000,
            "ci_worst_at_1e4": ci(0.75, 0.79),
        },
        "population": {
            "measured": [0.40, 0.13],
            "truth": [0.40, 0.13],
            "ci_mu": ci(0.39, 0.41),
            "ci_sigma": ci(0.12, 0.14),
        },
        "n_anchors": 1000,
        "n_samples": 100_000,
        "stability": {"a_sizes": [100, 1000, 3000], "worst_identity_by_a": [2, 0, 0]},
        "extremes": {
            "far_mccs_paper": 0.0,
            "collapsed_mccs_paper": 1.0,
            "far_mccs_code": 0.0,
            "collapsed_mccs_code": 1.0,
        },
    }


def chapter_02():
    def cell(rate, lo, hi):
        return {"rate": rate, "ci95": ci(lo, hi), "n": 200}

    fa = {k: cell(0.05, 0.03, 0.08) for k in ("erl", "mad", "selection_erl", "selection_mad", "pointwise")}
    power = {
        m: {"anchors": {"pointwise": cell(0.99, 0.95, 1.0), "selection_mad": cell(0.9, 0.85, 0.95)}}
        for m in ("0.02", "0.05")
    }
    return {"false_alarm": {"anchors": fa}, "power": power, "setting": {"alpha": 0.05}}


def chapter_07():
    return {
        "descriptor_name": "ArcFaceDescriptor",
        "theta": 0.39,
        "r": 0.27,
        "sizes": {"A": 3000, "S": 10_000, "T": 30_000},
        "worst": {"mccs": 0.62, "ci": ci(0.58, 0.66)},
        "median_anchor": {"mccs": 0.34, "ci": ci(0.32, 0.36)},
        "ratio": {"estimate": 1.82, "lo": 1.61, "hi": 2.06},
        "population": {"mu": 0.40, "sigma": 0.06, "ci_mu": ci(0.39, 0.41), "ci_sigma": ci(0.055, 0.065)},
        "stability": {
            "n_1e4": 10_000,
            "mccs_at_1e4": 0.62,
            "ci_at_1e4": ci(0.605, 0.635),
            "n_end": 30_000,
            "mccs_at_end": 0.62,
            "ci_at_end": ci(0.61, 0.63),
        },
        "fig3": {
            "n_anchors": 3000,
            "at_1e4": {"n": 10_000, "mu": 0.40, "ci_mu": ci(0.39, 0.41), "sigma": 0.06, "ci_sigma": ci(0.055, 0.065)},
            "at_end": {"n": 30_000, "mu": 0.40, "ci_mu": ci(0.395, 0.405), "sigma": 0.06, "ci_sigma": ci(0.057, 0.063)},
        },
        "fig1": {"a_sizes": [100, 300, 1000, 3000], "same_as_largest": [False, True, True, True]},
        "fig4": {"worst_median_nn_distance": 0.20, "random_median_nn_distance": 0.45},
        "fig7": {"n": 24, "raw_top_within_r_of_worst": 0.8, "raw_top_distinct": 3},
        "seed001_fig1": {"q": 999, "pointwise_rejects": True, "erl_p": 0.001},
        "forms": {
            "theta": 0.3,
            "implied": {"code": 1.2e-3, "paper": 0.14},
            "m_q05": 1e-4,
            "m_q95": 5e-3,
            "m_max": 0.03,
            "code_inside": True,
            "paper_inside": False,
        },
    }


VARIANTS = (
    "gmm",
    "voronoi",
    "voronoi-non-mode",
    "rejection-output",
    "rejection-ball",
    "rejection-hull",
    "white-box-rejection-ball",
)
PARTS = ("planted", "planted_high_dim", "faces")


def chapter_04():
    def variant(name):
        return {
            "variant": name,
            "old_worst": change(-0.10, -0.13, -0.07),
            "new_worst": change(-0.02, -0.04, -0.01),
            "mu": change(-0.015, -0.02, -0.01, before=0.4),
            "sigma": change(-0.008, -0.01, -0.005, before=0.1),
            "descriptor": change(0.0001, -0.001, 0.001, before=0.01),
            "other_modes": [change(-0.07, -0.10, -0.05), change(-0.06, -0.09, -0.03)],
            "acceptance_rate": 0.9,
        }

    bands = {"gmm": {"before": {"p_value": 0.01, "reject": True}, "after": {"p_value": 0.30, "reject": False}}}
    out = {part: {"variants": [variant(v) for v in VARIANTS], "band_tests": copy.deepcopy(bands)} for part in PARTS}
    out["approach_quality"] = {"planted D=12": change(-0.002, -0.003, -0.001, before=0.01)}
    out["white_box_vs_black_box"] = {"rejection-ball": change(0.01, -0.02, 0.04)}
    return out


def chapter_05():
    subjects = ("planted sphere (D=12)", "DCGAN faces")
    return {
        "rows": [
            {
                "subject": s,
                "mccs_worst": [0.36, 0.73],
                "mccs_worst_ci": [ci(0.33, 0.39), ci(0.67, 0.80)],
                "frechet": [0.001, 0.0011],
                "worst_is_duplicate": {"count": True, "mccs": True},
                "worst_distance_to_duplicate": {"count": 0.0, "mccs": 0.0},
            }
            for s in subjects
        ],
        "verdicts": [{"subject": s, "mccs_rise_clear": True, "frechet_change_over_yardstick": 0.10} for s in subjects],
    }


def good():
    return {
        "01_planted_collapse": chapter_01(),
        "02_testing_collapse": chapter_02(),
        "04_calibration": chapter_04(),
        "05_sensitivity": chapter_05(),
        "07_face_figures": chapter_07(),
    }


def graded(results, prefix):
    rows = [r for r in grade_claims(results) if r["claim"].startswith(prefix)]
    assert rows, f"no ledger row starts with {prefix!r}"
    return {r["grade"] for r in rows}


# A substitute generator and descriptor can at best *partly* reproduce Table 1.
CAPPED = {"Table 1 range of (mu, sigma) for face GANs": "partly reproduced"}
#: Chapters whose rules have their own test files: 3 (tests/test_ledger_faces.py), 8 (test_ledger_metrics.py),
#: 9 (test_ledger_remedies.py), 10-11 (test_ledger_experiments.py).
OWN_TESTS = ("03_face_subject", "08_metrics", "09_remedies", "10_correctness", "11_causes")


def book_rows(results):
    """The ledger rows of the chapters planted by ``good()`` (the others are tested on their own)."""
    return [r for r in grade_claims(results) if r["chapter"] not in OWN_TESTS]


def test_good_results_are_reproduced_by_every_rule():
    rows = book_rows(good())
    for r in rows:
        assert r["grade"] in GRADES
        if r["grade"] == "not run here":
            assert r["chapter"] == "—", r  # only the claims that need models we do not have
            continue
        assert r["grade"] == CAPPED.get(r["claim"], "reproduced"), r
    rows = grade_claims(good())  # every claim, the lab's included, is listed somewhere
    claims = " | ".join(r["claim"] for r in rows)
    for needed in (
        "MCCS ranges between 0 and 1",
        "relieves the other modes",
        "falls after calibration",
        "Approach #2",
        "white-box counterpart",
        "convex hull",
        "Voronoi",
        "Table 4",
        "curve falls inside",
        "80 nearest",
        "top-24",
        "code form",
        "§4.3.2",
    ):
        assert needed in claims or any(needed in r["source"] for r in rows), needed


def _set(path, value):
    def mutate(res):
        d = res
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value

    return mutate


def _each_variant(key, value, parts=PARTS):
    def mutate(res):
        for part in parts:
            for v in res["04_calibration"][part]["variants"]:
                v[key] = copy.deepcopy(value)

    return mutate


# (claim prefix, how a wrong result differs from the good one, the grade the rule must give)
BAD = [
    ("I_w and the distinct dense modes", _set(("01_planted_collapse", "identities_recovered"), []), "not reproduced"),
    ("MCCS(I_w) is far above", _set(("01_planted_collapse", "mccs_worst", "ci"), ci(0.30, 0.36)), "not reproduced"),
    ("MCCS(I_w) is far above", _set(("01_planted_collapse", "mccs_worst", "truth"), 0.90), "partly reproduced"),
    (
        "MCCS stabilises by",
        _set(("01_planted_collapse", "efficiency", "ci_worst_at_1e4"), ci(0.60, 0.66)),
        "not reproduced",
    ),
    (
        "MCCS stabilises by",
        _set(("01_planted_collapse", "efficiency", "ci_worst_at_1e4"), ci(0.55, 0.95)),
        "partly reproduced",
    ),
    (
        "(mu, sigma) of MCCS summarise",
        _set(("01_planted_collapse", "population", "truth"), [0.45, 0.20]),
        "not reproduced",
    ),
    (
        "I_w is the same identity",
        _set(("01_planted_collapse", "stability", "worst_identity_by_a"), [2, 0, 1]),
        "not reproduced",
    ),
    (
        "MCCS ranges between 0 and 1",
        _set(("01_planted_collapse", "extremes", "collapsed_mccs_code"), 588.3),
        "partly reproduced",
    ),
    (
        "MCCS ranges between 0 and 1",
        _set(("01_planted_collapse", "extremes", "collapsed_mccs_paper"), 0.9),
        "not reproduced",
    ),
    (
        "The pointwise band",
        _set(("02_testing_collapse", "false_alarm", "anchors", "pointwise", "ci95"), ci(0.44, 0.58)),
        "not reproduced",
    ),
    (
        "The band test detects",
        _set(("02_testing_collapse", "power", "0.05", "anchors", "pointwise", "ci95"), ci(0.05, 0.2)),
        "not reproduced",
    ),
    ("On faces, MCCS(I_w) is far above", _set(("07_face_figures", "ratio", "lo"), 0.95), "not reproduced"),
    ("On faces, MCCS(I_w) is far above", _set(("07_face_figures", "ratio", "hi"), 1.4), "partly reproduced"),
    ("Table 1 range", _set(("07_face_figures", "population", "ci_mu"), ci(0.60, 0.70)), "not reproduced"),
    (
        "On faces, MCCS stabilises",
        _set(("07_face_figures", "stability", "ci_at_1e4"), ci(0.40, 0.45)),
        "not reproduced",
    ),
    (
        "On faces, (mu, sigma) stabilise",
        _set(("07_face_figures", "fig3", "at_1e4", "ci_mu"), ci(0.50, 0.52)),
        "not reproduced",
    ),
    (
        "On faces, I_w is the same identity",
        _set(("07_face_figures", "fig1", "same_as_largest"), [False, False, False, True]),
        "not reproduced",
    ),
    ("I_w's 80 nearest", _set(("07_face_figures", "fig4", "worst_median_nn_distance"), 0.50), "not reproduced"),
    ("The top-24 modes", _set(("07_face_figures", "fig7", "raw_top_within_r_of_worst"), 0.0), "not reproduced"),
    (
        "On faces, R_obs leaves",
        _set(("07_face_figures", "seed001_fig1"), {"q": 999, "pointwise_rejects": False, "erl_p": 0.5}),
        "not reproduced",
    ),
    ("The paper's MCCS values fit", _set(("07_face_figures", "forms", "code_inside"), False), "partly reproduced"),
    ("The paper's MCCS values fit", _set(("07_face_figures", "forms", "paper_inside"), True), "partly reproduced"),
    ("GMM reshaping (Alg. 1) lowers", _each_variant("old_worst", change(0.005, -0.02, 0.03)), "not reproduced"),
    (
        "GMM reshaping (Alg. 1) lowers",
        _each_variant("descriptor", change(0.01, 0.005, 0.02, before=0.01)),
        "partly reproduced",
    ),
    ("Importance sampling (Alg. 2) lowers", _each_variant("old_worst", change(0.005, -0.02, 0.03)), "not reproduced"),
    ("Alg. 2 with the paper's convex hull", _each_variant("old_worst", change(-0.01, -0.03, 0.01)), "not reproduced"),
    ("Alg. 1, exact Voronoi", _each_variant("old_worst", change(0.05, 0.02, 0.08)), "not reproduced"),
    ("Alg. 1, size-aware Voronoi", _each_variant("old_worst", change(0.0, -0.01, 0.01)), "not reproduced"),
    ("Alg. 2 with the authors' latent ball", _each_variant("old_worst", change(0.0, -0.01, 0.01)), "not reproduced"),
    ("White-box latents + ball", _each_variant("old_worst", change(0.0, -0.01, 0.01)), "not reproduced"),
    ("(mu, sigma) of MCCS falls", _each_variant("mu", change(0.0, -0.01, 0.02, before=0.4)), "partly reproduced"),
    (
        "(mu, sigma) of MCCS falls",
        lambda res: [_each_variant(k, change(0.0, -0.01, 0.02))(res) for k in ("mu", "sigma")],
        "not reproduced",
    ),
    ("Calibrating I_w relieves", _each_variant("other_modes", [change(0.0, -0.01, 0.02)] * 2), "not reproduced"),
    (
        "After calibration the mode's curve",
        lambda res: [
            res["04_calibration"][p]["band_tests"]["gmm"].update(after={"p_value": 0.001, "reject": True})
            for p in PARTS
        ],
        "not reproduced",
    ),
    (
        "Approach #2",
        _set(("04_calibration", "approach_quality", "planted D=12"), change(0.002, 0.001, 0.003)),
        "not reproduced",
    ),
    (
        "The white-box counterpart",
        _set(("04_calibration", "white_box_vs_black_box", "rejection-ball"), change(-0.05, -0.08, -0.02)),
        "not reproduced",
    ),
    (
        "Duplicates raise MCCS(I_w)",
        lambda res: [v.update(mccs_rise_clear=False) for v in res["05_sensitivity"]["verdicts"]],
        "not reproduced",
    ),
    (
        "Duplicates raise MCCS(I_w)",
        lambda res: [v.update(frechet_change_over_yardstick=1.2) for v in res["05_sensitivity"]["verdicts"]],
        "partly reproduced",
    ),
    (
        "The worst case of the augmented set",
        lambda res: [
            r.update(worst_is_duplicate={"count": False, "mccs": False}) for r in res["05_sensitivity"]["rows"]
        ],
        "not reproduced",
    ),
    (
        "The worst case of the augmented set",
        lambda res: [
            r.update(worst_is_duplicate={"count": False, "mccs": True}) for r in res["05_sensitivity"]["rows"]
        ],
        "partly reproduced",
    ),
]


@pytest.mark.parametrize("prefix, mutate, expected", BAD, ids=[f"{b[0][:30]}->{b[2]}" for b in BAD])
def test_each_rule_fails_a_wrong_result(prefix, mutate, expected):
    res = good()
    assert graded(res, prefix) <= {"reproduced", "partly reproduced"}  # the good result passes (Table 1: partly)
    mutate(res)
    assert graded(res, prefix) == {expected}


def test_every_graded_rule_has_a_failing_case():
    """No rule escapes the tests above: each row of the good ledger is matched by some BAD prefix."""
    prefixes = [b[0] for b in BAD]
    for r in book_rows(good()):
        if r["grade"] == "not run here":
            continue
        assert any(r["claim"].startswith(p) for p in prefixes), r["claim"]


def test_missing_chapters_are_missing_results_not_passes():
    rows = grade_claims({})
    graded_rows = [r for r in rows if r["chapter"] != "—"]
    assert graded_rows and all(r["grade"] == "missing result" for r in graded_rows)
    assert all(r["grade"] == "not run here" for r in rows if r["chapter"] == "—")


def test_smoke_scale_results_say_not_run_here_for_large_sizes():
    res = good()
    res["01_planted_collapse"]["efficiency"].update(ci_worst_at_1e4=None, n_at_1e4=None)
    res["07_face_figures"]["stability"].update(ci_at_1e4=None)
    res["07_face_figures"]["fig3"]["at_1e4"] = None
    res["07_face_figures"]["fig1"].update(a_sizes=[30, 60], same_as_largest=[False, True])
    for prefix in (
        "MCCS stabilises by",
        "On faces, MCCS stabilises",
        "On faces, (mu, sigma) stabilise",
        "On faces, I_w is the same identity",
    ):
        assert graded(res, prefix) == {"not run here"}, prefix


def test_a_calibrator_that_accepts_nothing_is_not_reproduced():
    res = good()
    res["04_calibration"]["faces"]["variants"][1] = {"variant": "voronoi", "acceptance_rate": 0.0001, "n_accepted": 0}
    assert "not reproduced" in graded(res, "Alg. 1, exact Voronoi")


def test_grading_does_not_modify_the_results_and_html_escapes():
    res = good()
    before = copy.deepcopy(res)
    rows = grade_claims(res)
    assert res == before
    rows[0]["claim"] = "<script>"
    assert "<script>" not in ledger_html(rows) and "&lt;script&gt;" in ledger_html(rows)
