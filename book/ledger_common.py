"""The ledger's row format and the small helpers every grading module shares.

A row is a dict with the claim, its source in the papers, the paper's number, ours, the grade and
the rule that gave it, and the chapter whose results it reads.  ``book.ledger`` and the chapter
modules (``book.ledger_faces``, ``book.ledger_metrics``, ``book.ledger_remedies``,
``book.ledger_experiments``) build their rows with :func:`row`.
"""

from __future__ import annotations

__all__ = ["GRADES", "PAPER", "row", "missing", "fmt", "ci_text", "covers", "overlaps", "get"]

GRADES = ("reproduced", "partly reproduced", "not reproduced", "not run here", "missing result")

#: The paper's numbers the rules compare with (typed once; papers 000 and 001).
PAPER = {
    "fig2_ratio": 0.62 / 0.34,  # MCCS(I_w) / MCCS(I_r) on faces (000 Fig. 2: 0.62 vs 0.34)
    "fig2_random": 0.34,
    "fig2_worst": 0.62,
    "table1_mu": (0.31, 0.48),  # range over StyleGAN / PGGAN / StyleGAN2 / BigGAN (000 Table 1)
    "table1_sigma": (0.05, 0.07),
    "table1_worst": (0.56, 0.72),  # MCCS(I_w): 0.64 / 0.72 / 0.56 / 0.69
}


def get(d, *path, default=None):
    """``d[p0][p1]...``, or ``default`` where a key or index is missing."""
    for p in path:
        if isinstance(d, list) and isinstance(p, int) and -len(d) <= p < len(d):
            d = d[p]
        elif isinstance(d, dict) and p in d:
            d = d[p]
        else:
            return default
    return d


def fmt(x, nd=3):
    if x is None:
        return "—"
    if isinstance(x, (list, tuple)):
        return "(" + ", ".join(fmt(v, nd) for v in x) + ")"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def ci_text(est, lohi, nd=3):
    """'est [lo, hi]'."""
    if est is None or lohi is None:
        return "—"
    return f"{est:.{nd}f} [{lohi[0]:.{nd}f}, {lohi[1]:.{nd}f}]"


def row(claim, source, paper, ours, grade, rule, chapter):
    if grade not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}; got {grade!r}")
    return {
        "claim": claim,
        "source": source,
        "paper": paper,
        "ours": ours,
        "grade": grade,
        "rule": rule,
        "chapter": chapter,
    }


def missing(claim, source, paper, chapter, why="the chapter did not run in this build"):
    return row(claim, source, paper, "—", "missing result", why, chapter)


def not_run(claim, source, paper, chapter, why):
    return row(claim, source, paper, "—", "not run here", why, chapter)


def covers(lohi, value) -> bool:
    return lohi is not None and value is not None and lohi[0] <= value <= lohi[1]


def overlaps(lohi, span) -> bool:
    return lohi is not None and span is not None and lohi[0] <= span[1] and span[0] <= lohi[1]
