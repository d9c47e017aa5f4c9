"""Ledger rows for chapter 8: do the standard metrics see intra-mode collapse? (paper 000, §1, §2.1, §4.2).

The paper: standard metrics "are not always sensitive to mode collapses" (§1); between RIC and RIC-aug
"neither FID or the classification-based study could reflect the intra-mode collapse", FID 15.36 →
15.93, while MCCS(I_w) goes 0.59 → 0.81 (§4.2).  Chapter 8 plants duplicates of three items (exact,
and jittered) at shares of 2.5-20% in two subjects (faces and the lab) and measures each metric's
**detection power at a 5% false-alarm rate** over replicate sets, with Clopper-Pearson 95% intervals
(``power_ci95``).  The rules, per subject, read those intervals:

* **MCCS(I_w) detects** at the reference share (``reference_level``, exact duplicates): its power's
  interval lies above α, and its false-alarm interval reaches down to α (the test holds its level);
* **the Fréchet distance is blind** at that share: the power interval of every Fréchet distance the
  chapter measured (on the descriptor and on a second network's features) reaches down to α;
* **MCCS(I_w) sees more than the Fréchet distance**: at some planted-duplicate condition (exact or
  jittered, any share) MCCS(I_w)'s power interval lies wholly above every Fréchet distance's ("MCCS
  above"), and at no such condition does any Fréchet distance's lie wholly above MCCS(I_w)'s
  ("Fréchet above").

Each claim is "reproduced" when it holds on both subjects and "partly" on one (the comparison: "partly"
also when neither subject has "Fréchet above", the two seeing the collapse alike).  A smoke-scale run
is "not run here"; an absent chapter or condition "missing result".
"""

from __future__ import annotations

from book.ledger_common import ci_text, missing, row
from book.ledger_common import not_run as _not_run

__all__ = ["grade_metrics"]

CH08 = "08_metrics"
_SRC = "000 §1, §2.1, §4.2 (RIC vs RIC-aug)"
_PAPER_FID = "FID 15.36 → 15.93: 'neither FID or the classification-based study could reflect the intra-mode collapse'"
_PAPER_MCCS = "MCCS(I_w) 0.59 → 0.81"
_CLAIMS = (
    ("MCCS(I_w) detects planted duplicates at a 5% false-alarm rate", _PAPER_MCCS),
    ("The Fréchet distance is blind to planted duplicates (FID barely moves)", _PAPER_FID),
    ("MCCS(I_w) sees intra-mode collapse that the Fréchet distance misses", f"{_PAPER_MCCS}; {_PAPER_FID}"),
)
_RULES = (
    "per subject at the reference share of exact duplicates: MCCS(I_w)'s power interval (Clopper-Pearson 95%) "
    "lies above α and its false-alarm interval reaches down to α; reproduced on both subjects, partly on one",
    "per subject at the reference share of exact duplicates: the power interval of every Fréchet distance "
    "measured reaches down to α (no significant detection); reproduced on both subjects, partly on one",
    "per subject over the planted-duplicate conditions (exact and jittered, every share): 'MCCS above' where "
    "MCCS(I_w)'s power interval lies wholly above every Fréchet distance's, 'Fréchet above' where any Fréchet "
    "distance's lies wholly above MCCS(I_w)'s; a subject agrees if MCCS is above somewhere and Fréchet above "
    "nowhere; reproduced if both agree, partly if one does or neither has 'Fréchet above', else not",
)


def _frechets(sub: dict) -> list[str]:
    return [k for k in sub["readouts"] if "frechet" in k]


def _p(cell: dict) -> str:
    return ci_text(cell["power"], cell["power_ci95"], 2)


def _above(a: dict, b: dict) -> bool:
    """Whether power interval ``a`` lies wholly above ``b``."""
    return a["power_ci95"][0] > b["power_ci95"][1]


def _subject(sub: dict, ref: float, alpha: float) -> dict | None:
    """The three per-subject verdicts and their texts; None if the reference condition is missing."""
    conds = [c for c in sub["conditions"] if c["kind"] in ("exact", "jittered")]
    at_ref = next((c for c in conds if c["kind"] == "exact" and c["level"] == ref), None)
    if at_ref is None:
        return None
    fds = _frechets(sub)
    m = at_ref["power"]["mccs.worst"]
    label = sub.get("labels", {})
    detects = m["power_ci95"][0] > alpha and m["false_alarm_ci95"][0] <= alpha
    blind = all(at_ref["power"][f]["power_ci95"][0] <= alpha for f in fds)
    mccs_above, fd_above = [], []
    for c in conds:
        p = c["power"]
        where = f"{c['kind']} {c['level']:g}"
        if fds and all(_above(p["mccs.worst"], p[f]) for f in fds):
            mccs_above.append(where)
        if any(_above(p[f], p["mccs.worst"]) for f in fds):
            fd_above.append(where)
    ref_text = f"at {ref:g} exact: MCCS(I_w) {_p(m)} (false alarms {m['false_alarm']:.2f}); " + ", ".join(
        f"{label.get(f, f)} {_p(at_ref['power'][f])}" for f in fds
    )
    return {
        "detects": detects,
        "blind": blind,
        "agrees": bool(mccs_above) and not fd_above,
        "no_fd_above": not fd_above,
        "ref_text": ref_text,
        "cmp_text": f"MCCS above at [{', '.join(mccs_above) or 'none'}], "
        f"Fréchet above at [{', '.join(fd_above) or 'none'}]",
    }


def _by_subjects(k: int, n: int) -> str:
    return "reproduced" if n and k == n else ("partly reproduced" if k else "not reproduced")


def grade_metrics(results: dict) -> list[dict]:
    """Ledger rows for chapter 8 from ``{chapter: results_json}``."""
    r = results.get(CH08)
    if r is None:
        return [missing(c, _SRC, p, CH08) for c, p in _CLAIMS]
    if r.get("scale") == "smoke":
        why = "smoke scale: a few replicate sets of a few dozen samples; the rule is evaluated at default scale"
        return [_not_run(c, _SRC, p, CH08, why) for c, p in _CLAIMS]
    alpha, ref = r["alpha"], r["reference_level"]
    subs = {name: _subject(sub, ref, alpha) for name, sub in r["subjects"].items()}
    if not subs or any(v is None for v in subs.values()):
        why = f"a subject lacks the exact-duplicate condition at the reference share {ref}"
        return [missing(c, _SRC, p, CH08, why) for c, p in _CLAIMS]
    n = len(subs)
    ref_text = "; ".join(f"{s}: {v['ref_text']}" for s, v in subs.items())
    agree = sum(v["agrees"] for v in subs.values())
    compare = (
        "reproduced"
        if agree == n
        else ("partly reproduced" if agree or all(v["no_fd_above"] for v in subs.values()) else "not reproduced")
    )
    grades = (
        _by_subjects(sum(v["detects"] for v in subs.values()), n),
        _by_subjects(sum(v["blind"] for v in subs.values()), n),
        compare,
    )
    ours = (ref_text, ref_text, "; ".join(f"{s}: {v['cmp_text']}" for s, v in subs.items()))
    tail = f" (α = {alpha}; {r['sizes']['r']} collapsed and {r['sizes']['r0']} null sets of {r['sizes']['n']})"
    return [row(c, _SRC, p, o + tail, g, rule, CH08) for (c, p), o, g, rule in zip(_CLAIMS, ours, grades, _RULES)]
