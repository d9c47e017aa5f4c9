"""book/ledger_experiments.py grades chapters 10 and 11 by the rules its rows state, in both directions.

Planted results are typed here from the rules (an interval above or below 0, a count of seeds), never
taken from the grader: each claim gets a result that meets its rule and one that misses it.
"""

import copy

import pytest

from book.ledger import GRADES
from book.ledger_experiments import grade_experiments


def diff(lo, hi):
    """A compare_models difference whose 95% interval is [lo, hi]."""
    return {"difference": (lo + hi) / 2, "difference_ci": [lo, hi], "before": {}, "after": {}, "p_value": 0.01}


UP, DOWN, FLAT = diff(0.05, 0.15), diff(-0.15, -0.05), diff(-0.02, 0.03)


def ch10(good=True):
    seed = {
        "aug_minus_ric": {"new_worst": UP if good else FLAT, "frechet": FLAT if good else UP, "mu": FLAT},
        "histogram": {"tv": 0.01, "p_value": 0.4} if good else {"tv": 0.30, "p_value": 1e-9},
        "aug_worst_repeated": {"distance": 0.02 if good else 0.4, "within_r": good},
    }
    pac = {"pac_minus_sn": {k: DOWN if good else UP for k in ("mu", "new_worst", "frechet")}}
    return {
        "scale": "default",
        "r": 0.1,
        "train_class_tv": 0.05,
        "ric": {"14": copy.deepcopy(seed), "15": copy.deepcopy(seed)},
        "pacgan": {"14": copy.deepcopy(pac), "15": copy.deepcopy(pac)},
    }


def ch11(good=True):
    restarts = ["DCGAN"] + [f"DCGAN seed {s}" for s in (15, 16, 17, 18)]
    ckpts = {str(s): [f"DCGAN seed {s} step {k}" for k in range(1, 7)] for s in (15, 16, 17, 18)}
    groups = {
        "Table 1": ["DCGAN", "SN-DCGAN", "Pac(SN-DCGAN)(4)", "WGAN-GP", "VAE"],
        "imbalance": ["DCGAN imbalanced", "DCGAN", "DCGAN dedup"],
        "restarts": restarts,
        "architecture/resolution": ["DCGAN", "DCGAN 14px", "SN-DCGAN", "SN-DCGAN 14px"],
        "checkpoints": [n for v in ckpts.values() for n in v],
    }
    names = {n for v in groups.values() for n in v}
    models = {n: {"vs_data": {"new_worst": UP if good else FLAT}} for n in names}
    length = {s: {"mu": DOWN if good else UP} for s in ckpts}
    dmu = {"mean": -0.1 if good else 0.1, "mean_ci": [-0.15, -0.05] if good else [0.05, 0.15], "n": 4}
    return {
        "scale": "default",
        "models": models,
        "groups": groups,
        "checkpoints": ckpts,
        "training_length": length,
        "training_length_dmu": dmu,
    }


def grades(results):
    rows = grade_experiments(results)
    assert all(set(r) == {"claim", "source", "paper", "ours", "grade", "rule", "chapter"} for r in rows)
    assert all(r["grade"] in GRADES for r in rows)
    return {r["claim"]: r["grade"] for r in rows}


def test_every_claim_passes_and_fails_by_its_rule():
    good = grades({"10_correctness": ch10(True), "11_causes": ch11(True)})
    bad = grades({"10_correctness": ch10(False), "11_causes": ch11(False)})
    assert len(good) == 13 and set(good.values()) == {"reproduced"}
    assert set(bad.values()) == {"not reproduced"}, bad


def test_one_seed_of_two_is_partly():
    r = ch10(True)
    r["ric"]["15"]["aug_minus_ric"]["new_worst"] = FLAT
    r["pacgan"]["15"]["pac_minus_sn"]["mu"] = UP
    g = grades({"10_correctness": r})
    assert g["Repeated items raise MCCS(I_w) (RIC → RIC-aug) [lab]"] == "partly reproduced"
    assert g["Packing lowers mu (SN-DCGAN → Pac(SN-DCGAN)(4)) [lab]"] == "partly reproduced"


def test_a_single_seed_is_never_fully_reproduced():
    r = ch10(True)
    del r["ric"]["15"], r["pacgan"]["15"]
    g = grades({"10_correctness": r})
    assert g["Repeated items raise MCCS(I_w) (RIC → RIC-aug) [lab]"] == "partly reproduced"
    assert g["Packing lowers MCCS(I_w) [lab]"] == "partly reproduced"


def test_class_shift_within_the_training_sets_own_is_partly():
    r = ch10(True)
    for v in r["ric"].values():
        v["histogram"] = {"tv": 0.06, "p_value": 1e-6}  # differs, but no more than the training sets (0.05 + 0.02)
    g = grades({"10_correctness": r})
    assert g["The classification-based study misses RIC-aug's collapse [lab]"] == "partly reproduced"


def test_a_point_above_the_data_with_an_interval_reaching_zero_does_not_count():
    r = ch11(True)
    r["models"]["WGAN-GP"]["vs_data"]["new_worst"] = diff(-0.01, 0.30)  # mean 0.145 > 0, interval reaches 0
    g = grades({"11_causes": r})
    assert g["Generators collapse beyond the data (Table 1) [lab]"] == "partly reproduced"


@pytest.mark.parametrize("field", ["restarts", "checkpoints"])
def test_too_few_restarts_or_checkpoints_is_not_run(field):
    r = ch11(True)
    if field == "restarts":
        r["groups"]["restarts"] = r["groups"]["restarts"][:3]
        claim = "Collapse persists over random restarts [lab]"
    else:
        r["checkpoints"] = {s: v[:5] for s, v in r["checkpoints"].items()}
        claim = "Collapse persists at every checkpoint [lab]"
    assert grades({"11_causes": r})[claim] == "not run here"


def test_smoke_scale_and_absent_chapters():
    smoke = {"10_correctness": {**ch10(True), "scale": "smoke"}, "11_causes": {**ch11(True), "scale": "smoke"}}
    assert set(grades(smoke).values()) == {"not run here"}
    assert set(grades({}).values()) == {"missing result"}


def test_a_blind_classifier_counts_only_where_mccs_sees_the_collapse():
    r = ch10(True)
    for v in r["ric"].values():
        v["aug_minus_ric"]["new_worst"] = FLAT  # MCCS sees nothing either: "misses it" is no finding
    g = grades({"10_correctness": r})
    assert g["The classification-based study misses RIC-aug's collapse [lab]"] == "not reproduced"
