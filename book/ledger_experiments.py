"""Ledger rows for the paper's experiments on trained generators (paper 000, §4.2.2 and §4.3; chapters 10 and 11).

``grade_experiments(results)`` takes ``{chapter_name: results_json}`` and returns rows in the format of
``book.ledger`` (claim, source, paper, ours, grade, rule, chapter).  The rules:

* **intervals, not points**: a change counts only when its 95% interval (``compare_models``: bootstrap
  over anchors and samples) excludes 0 on the paper's side, and a claim over training seeds needs it
  in every seed (one seed, or some seeds: "partly");
* **selection-aware**: every MCCS(I_w) compared is the worst case selected on half S of a pool and
  scored on the fresh half T; a generator "collapses" only when its MCCS(I_w) exceeds the real
  training data's, diagnosed the same way, with the interval of the difference above 0;
* a smoke-scale run (barely trained generators) is "not run here"; an absent chapter is "missing result".
"""

from __future__ import annotations

from book.ledger_common import not_run as _not_run
from book.ledger_common import row as _row

__all__ = ["grade_experiments"]

CH10, CH11 = "10_correctness", "11_causes"


def _count_grade(k: int, n: int, *, need: int = 1) -> str:
    """All of n (and n >= need): reproduced; some: partly; none: not reproduced."""
    if n and k == n and n >= need:
        return "reproduced"
    return "partly reproduced" if k else "not reproduced"


def _side(d: dict, sign: int) -> bool:
    """Whether a compare_models difference's interval excludes 0 on the side of ``sign``."""
    lo, hi = d["difference_ci"]
    return lo > 0 if sign > 0 else hi < 0


def _diffs(block: dict, name: str) -> str:
    return "; ".join(
        f"seed {s}: {v[name]['difference']:+.3f} "
        f"[{v[name]['difference_ci'][0]:+.3f}, {v[name]['difference_ci'][1]:+.3f}]"
        for s, v in block.items()
    )


# claim, source, the paper's number: one entry per row of each chapter
_CLAIMS_10 = [
    ("Repeated items raise MCCS(I_w) (RIC → RIC-aug) [lab]", "000 §4.2.2", "MCCS(I_w) 0.59 → 0.81"),
    ("FID barely moves between RIC and RIC-aug [lab]", "000 §4.2.2", "FID 15.36 → 15.93"),
    ("The classification-based study misses RIC-aug's collapse [lab]", "000 §4.2.2", "claimed (no number)"),
    ("RIC-aug's worst case is a repeated item [lab]", "000 §4.2.2", "I'_w is the repeated face"),
    ("Packing lowers mu (SN-DCGAN → Pac(SN-DCGAN)(4)) [lab]", "000 §4.2.2", "(0.62, 0.18) → (0.54, 0.14)"),
    ("Packing lowers MCCS(I_w) [lab]", "000 §4.2.2", "0.84 → 0.73"),
    ("Packing lowers FID [lab]", "000 §4.2.2", "FID 34.25 → 28.12"),
]
_CLAIMS_11 = [
    ("Generators collapse beyond the data (Table 1) [lab]", "000 §4.3.1, Table 1", "MCCS(I_w) 0.56-0.72"),
    ("Collapse persists with imbalanced, balanced and de-duplicated data [lab]", "000 §4.3.2, Table 2",
     "CelebAHQ 0.67, FFHQ 0.64, GRIC 0.62"),
    ("Collapse persists over random restarts [lab]", "000 §4.3.2", "10 restarts, about (0.43, 0.06)"),
    ("Collapse persists at every checkpoint [lab]", "000 §4.3.2", "6 checkpoints, FID 7.67 → 6.32"),
    ("mu falls with training length [lab]", "000 §4.3.2", "(0.51, 0.09) → (0.43, 0.06)"),
    ("Collapse persists across architectures and resolutions (Table 3) [lab]", "000 §4.3.2, Table 3",
     "every resolution 128-1024"),
]  # fmt: skip


def _unavailable(claims, chapter, result):
    if result is None:
        return [
            _row(c, s, p, "—", "missing result", "the chapter did not run in this build", chapter) for c, s, p in claims
        ]
    why = "smoke scale: generators of a few steps; the rule is evaluated at default scale or larger"
    return [_not_run(c, s, p, chapter, why) for c, s, p in claims]


def _correctness(r) -> list[dict]:
    if r is None or r.get("scale") == "smoke":
        return _unavailable(_CLAIMS_10, CH10, r)
    ric, pac = r["ric"], r["pacgan"]
    n = len(ric)
    rose = sum(_side(v["aug_minus_ric"]["new_worst"], +1) for v in ric.values())
    fd_flat = sum(
        v["aug_minus_ric"]["frechet"]["difference_ci"][0] <= 0 <= v["aug_minus_ric"]["frechet"]["difference_ci"][1]
        for v in ric.values()
    )
    hist_same = sum(v["histogram"]["p_value"] >= 0.05 for v in ric.values())
    hist_small = sum(v["histogram"]["tv"] <= r["train_class_tv"] + 0.02 for v in ric.values())
    within = sum(v["aug_worst_repeated"]["within_r"] for v in ric.values())
    rows_10 = [
        (
            f"Δ MCCS(I_w) on T: {_diffs({s: v['aug_minus_ric'] for s, v in ric.items()}, 'new_worst')}",
            _count_grade(rose, n, need=2),
            "reproduced if every seed's interval of Δ MCCS(I_w) (RIC-aug − RIC) is above 0 (>= 2 seeds); "
            "partly if some are (or one seed only)",
        ),
        (
            f"Δ Fréchet (lab classifier): {_diffs({s: v['aug_minus_ric'] for s, v in ric.items()}, 'frechet')}",
            "reproduced" if rose and fd_flat == n else ("partly reproduced" if rose and fd_flat else "not reproduced"),
            "reproduced if MCCS(I_w) rises (interval) in some seed while the Fréchet change's interval includes 0 "
            "in every seed; partly if it includes 0 in some",
        ),
        (
            "; ".join(
                f"seed {s}: TV {v['histogram']['tv']:.3f}, χ² p {v['histogram']['p_value']:.3g}" for s, v in ric.items()
            )
            + f" (training sets' own class TV {r['train_class_tv']:.3f})",
            "not reproduced"
            if not rose
            else ("reproduced" if hist_same == n else ("partly reproduced" if hist_small == n else "not reproduced")),
            "only where MCCS(I_w) rises (interval) in some seed: reproduced if no seed's class histograms differ "
            "(χ² p >= 0.05); partly if they differ by no more than the "
            "training sets' class proportions do (TV <= that + 0.02): it sees the repeats' class shift only",
        ),
        (
            "; ".join(f"seed {s}: d = {v['aug_worst_repeated']['distance']:.3f}" for s, v in ric.items())
            + f" (r = {r['r']:.3f})",
            _count_grade(within, n),
            "reproduced if RIC-aug's I_w lies within r of a repeated item in every seed; partly in some",
        ),
    ]
    for name, label in (("mu", "Δ mu"), ("new_worst", "Δ MCCS(I_w) on T"), ("frechet", "Δ Fréchet")):
        k = sum(_side(v["pac_minus_sn"][name], -1) for v in pac.values())
        rows_10.append(
            (
                f"{label} (Pac − SN): {_diffs({s: v['pac_minus_sn'] for s, v in pac.items()}, name)}",
                _count_grade(k, len(pac), need=2),
                f"reproduced if every seed's interval of {label} (Pac − SN) is below 0 (>= 2 seeds); partly: some",
            )
        )
    return [_row(c, s, p, ours, g, rule, CH10) for (c, s, p), (ours, g, rule) in zip(_CLAIMS_10, rows_10)]


def _causes(r) -> list[dict]:
    if r is None or r.get("scale") == "smoke":
        return _unavailable(_CLAIMS_11, CH11, r)
    models, groups = r["models"], r["groups"]

    def beyond(names):
        return sum(_side(models[n]["vs_data"]["new_worst"], +1) for n in names)

    def listing(names):
        return "; ".join(
            f"{n}: {models[n]['vs_data']['new_worst']['difference']:+.3f} "
            f"[{models[n]['vs_data']['new_worst']['difference_ci'][0]:+.3f}, "
            f"{models[n]['vs_data']['new_worst']['difference_ci'][1]:+.3f}]"
            for n in names
        )

    persist_rule = "reproduced if every {what}'s MCCS(I_w) − the data's has an interval above 0{need}; partly if some"
    gans = [n for n in groups["Table 1"] if n != "VAE"]
    restarts, ckpts, arch = groups["restarts"], groups["checkpoints"], groups["architecture/resolution"]
    n_ckpt_per_run = min((len(v) for v in r["checkpoints"].values()), default=0)
    length = r["training_length"]
    falls = sum(_side(v["mu"], -1) for v in length.values())
    dmu = r["training_length_dmu"]
    mean_ci_below = dmu["mean_ci"] is not None and dmu["mean_ci"][1] < 0
    rows_11 = [
        ("MCCS(I_w) − data's: " + listing(gans), _count_grade(beyond(gans), len(gans)),
         persist_rule.format(what="GAN", need="")),
        ("MCCS(I_w) − data's: " + listing(groups["imbalance"]), _count_grade(beyond(groups["imbalance"]), 3),
         persist_rule.format(what="data condition", need="")),
        ("MCCS(I_w) − data's: " + listing(restarts),
         _count_grade(beyond(restarts), len(restarts)) if len(restarts) >= 5 else "not run here",
         persist_rule.format(what="restart", need=" (>= 5 restarts, else not run here)")),
        (f"{beyond(ckpts)} of {len(ckpts)} checkpoints beyond the data's MCCS(I_w)",
         _count_grade(beyond(ckpts), len(ckpts)) if n_ckpt_per_run >= 6 else "not run here",
         persist_rule.format(what="checkpoint", need=" (>= 6 checkpoints per run, else not run here)")),
        ("Δ mu (last − first checkpoint): " + _diffs(length, "mu"),
         "reproduced" if falls == len(length) and len(length) >= 2 else (
             "partly reproduced" if falls or mean_ci_below else "not reproduced"),
         "reproduced if every run's interval of Δ mu (last − first) is below 0 (>= 2 runs); partly if some are "
         "or the t interval of the mean over runs is"),
        ("MCCS(I_w) − data's: " + listing(arch),
         _count_grade(beyond(arch), len(arch)) if len(arch) >= 4 else "not run here",
         persist_rule.format(what="architecture x resolution cell", need=" (>= 2 x 2 cells)")),
    ]  # fmt: skip
    return [_row(c, s, p, ours, g, rule, CH11) for (c, s, p), (ours, g, rule) in zip(_CLAIMS_11, rows_11)]


def grade_experiments(results: dict) -> list[dict]:
    """Ledger rows for chapters 10 (§4.2.2) and 11 (§4.3), from ``{chapter: results_json}``."""
    return _correctness(results.get(CH10)) + _causes(results.get(CH11))
