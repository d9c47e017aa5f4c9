"""Ledger rows for the face subject: chapter 3's Table 1 analogue and chapter 7's figures (paper 000, §4).

``grade_faces(results)`` takes ``{chapter_name: results_json}`` and returns rows in the format of
``book.ledger_common.row``.  The rules:

* **Table 1, per generator** (chapter 3, six DCGAN generators: two checkpoints x truncation ψ, the main
  descriptor at its own θ and r): "partly reproduced" if the 95% intervals of mu, sigma and MCCS(I_w)
  (I_w selected on S, scored on T) each overlap the paper's range over its four GANs (mu 0.31-0.48,
  sigma 0.05-0.07, MCCS(I_w) 0.56-0.72); "not reproduced" if any misses.  A different generator and
  descriptor can never "reproduce" the paper's digits.
* **Truncation ordering** (mu, and MCCS(I_w), rise as ψ falls from 1 to 0.7 to 0.5): "reproduced" if for
  both checkpoints each interval lies wholly above the previous ψ's; "partly" if for at least one
  checkpoint ψ = 0.5's interval lies above ψ = 1's; else "not reproduced".
* chapter 7's rules are stated in their rows (intervals, I_w scored on samples that did not select it).
* a smoke-scale run is "not run here"; an absent chapter, or one whose results lack the keys, "missing result".
"""

from __future__ import annotations

from book.ledger_common import PAPER
from book.ledger_common import ci_text as _ci
from book.ledger_common import fmt as _fmt
from book.ledger_common import get as _get
from book.ledger_common import missing as _missing
from book.ledger_common import not_run as _not_run
from book.ledger_common import overlaps as _overlaps
from book.ledger_common import row as _row

__all__ = ["grade_faces", "CH03_MODELS"]

CH03 = "03_face_subject"
#: chapter 3's six generators (the keys of its ``table1``): checkpoint -> names by ψ = 1, 0.7, 0.5
CH03_MODELS = {
    "1.1.1": ("DCGAN 1.1.1", "DCGAN 1.1.1, ψ=0.7", "DCGAN 1.1.1, ψ=0.5"),
    "1.0.1": ("DCGAN 1.0.1", "DCGAN 1.0.1, ψ=0.7", "DCGAN 1.0.1, ψ=0.5"),
}
_COLUMN = "ArcFace"  # the main descriptor at its own (θ, r)
_T1_PAPER = "(0.41, 0.06) / (0.48, 0.07) / (0.31, 0.05) / (0.45, 0.07); MCCS(I_w) 0.64 / 0.72 / 0.56 / 0.69"
_T1_RULE = (
    "partly if the 95% intervals of mu, sigma (over anchors) and MCCS(I_w) (I_w selected on S, scored on T) "
    "each overlap the paper's range over its four GANs (mu {mu}, sigma {sg}, MCCS(I_w) {w}); not if any misses; "
    "never 'reproduced' (a different generator and descriptor)"
)
_ORDER_RULE = (
    "reproduced if, for both checkpoints, each ψ's 95% interval of {what} lies wholly above the previous ψ's "
    "(ψ = 1 → 0.7 → 0.5); partly if for at least one checkpoint ψ = 0.5's lies above ψ = 1's; else not"
)
_ORDER_CLAIMS = (
    ("mu", "mu_ci", "On faces, mu of MCCS rises as truncation ψ falls [chapter 3]"),
    ("mccs_worst", "mccs_worst_ci", "On faces, MCCS(I_w) rises as truncation ψ falls [chapter 3]"),
)


def _span(lohi):
    return f"{lohi[0]:.2f}-{lohi[1]:.2f}"


def _table1(results):
    r, ch = results.get(CH03), CH03
    names = [n for ns in CH03_MODELS.values() for n in ns]
    claims = [f"Table 1 analogue: {n} lies in the paper's ranges" for n in names]
    claims += [c for _, _, c in _ORDER_CLAIMS]
    src, src_order = "000 Table 1", "000 §4 (MCCS reads diversity); ψ = 0.7 in the authors' StyleGAN runs"
    paper_order = "not in the paper: a controlled knob (lower ψ, less diversity)"
    if r is None:
        return [_missing(c, src, _T1_PAPER, ch) for c in claims[:-2]] + [
            _missing(c, src_order, paper_order, ch) for c in claims[-2:]
        ]
    if r.get("scale") == "smoke":
        why = "smoke scale: a few anchors and samples per generator; the rule is evaluated at default scale or larger"
        return [_not_run(c, src, _T1_PAPER, ch, why) for c in claims[:-2]] + [
            _not_run(c, src_order, paper_order, ch, why) for c in claims[-2:]
        ]
    table = r.get("table1")
    why = "the results have no table1 entry for it (written by an older chapter 3)"
    rows = []
    mu_r, sg_r, w_r = PAPER["table1_mu"], PAPER["table1_sigma"], PAPER["table1_worst"]
    rule = _T1_RULE.format(mu=_span(mu_r), sg=_span(sg_r), w=_span(w_r))
    for name, claim in zip(names, claims):
        e = _get(table, name, _COLUMN)
        if e is None:
            rows.append(_missing(claim, src, _T1_PAPER, ch, why))
            continue
        hits = {
            "mu": _overlaps(e["mu_ci"], mu_r),
            "sigma": _overlaps(e["sigma_ci"], sg_r),
            "MCCS(I_w)": _overlaps(e["mccs_worst_ci"], w_r),
        }
        off = [k for k, ok in hits.items() if not ok]
        rows.append(
            _row(
                claim,
                src,
                _T1_PAPER,
                f"mu {_ci(e['mu'], e['mu_ci'])}, sigma {_ci(e['sigma'], e['sigma_ci'])}, MCCS(I_w) on T "
                f"{_ci(e['mccs_worst'], e['mccs_worst_ci'])} (on S {_fmt(e.get('mccs_worst_on_selection'))}); θ = "
                f"{_fmt(e['theta'])}, r = {_fmt(e['r'])}, |A| = {e.get('n_anchors')}, |S| = |T| = {e.get('n_score')}"
                + (f"; outside: {', '.join(off)}" if off else ""),
                "not reproduced" if off else "partly reproduced",
                rule,
                ch,
            )
        )
    for key, ci_key, claim in _ORDER_CLAIMS:
        series = {c: [_get(table, n, _COLUMN) for n in ns] for c, ns in CH03_MODELS.items()}
        if any(e is None for es in series.values() for e in es):
            rows.append(_missing(claim, src_order, paper_order, ch, why))
            continue
        ordered = {c: all(a[ci_key][1] < b[ci_key][0] for a, b in zip(es, es[1:])) for c, es in series.items()}
        ends = {c: es[0][ci_key][1] < es[-1][ci_key][0] for c, es in series.items()}
        dlib = _get(r, "descriptor_agreement", "mu_rises_as_psi_falls") if key == "mu" else None
        rows.append(
            _row(
                claim,
                src_order,
                paper_order,
                "; ".join(f"{c}: " + " → ".join(_ci(e[key], e[ci_key]) for e in es) for c, es in series.items())
                + f" (ψ = 1, 0.7, 0.5; {_COLUMN})"
                + (f"; estimates monotone by descriptor: {dlib}" if dlib else ""),
                "reproduced"
                if all(ordered.values())
                else ("partly reproduced" if any(ends.values()) else "not reproduced"),
                _ORDER_RULE.format(what=key.replace("mccs_worst", "MCCS(I_w)")),
                ch,
            )
        )
    return rows


# -- chapter 7: the paper's figures on the face subject ---------------------------------------------
def _figures(results):
    r, ch = results.get("07_face_figures"), "07_face_figures"
    claims = (
        ("On faces, MCCS(I_w) is far above a random anchor's", "000 Fig. 2", "0.62 vs 0.34 (StyleGAN, InsightFace)"),
        ("Table 1 range of (mu, sigma) for face GANs", "000 Table 1", "mu 0.31–0.48, sigma 0.05–0.07"),
    )
    if r is None:
        return [_missing(c, s, p, ch) for c, s, p in claims]
    rows = []
    sub = f"DCGAN faces, {r.get('descriptor_name', 'main descriptor')}, θ={_fmt(r['theta'])}"
    w, med, ratio = r["worst"], r["median_anchor"], r["ratio"]
    pr = PAPER["fig2_ratio"]
    rows.append(
        _row(
            claims[0][0],
            claims[0][1],
            f"{claims[0][2]}, ratio {pr:.2f}",
            f"I_w on a fresh T {_ci(w['mccs'], w['ci'])} vs median anchor {_ci(med['mccs'], med['ci'])}: ratio "
            f"{_ci(ratio['estimate'], [ratio['lo'], ratio['hi']], 2)} ({sub}, |A|={r['sizes']['A']}, "
            f"|S|={r['sizes']['S']}, |T|={r['sizes']['T']})",
            "reproduced"
            if ratio["lo"] > 1 and ratio["hi"] >= pr
            else ("partly reproduced" if ratio["lo"] > 1 else "not reproduced"),
            f"I_w selected on S and scored on T; reproduced if the ratio's interval lies above 1 and reaches the "
            f"paper's {pr:.2f}; partly if it lies above 1 but below the paper's ratio; not if it reaches down to 1",
            ch,
        )
    )
    p = r["population"]
    inside = _overlaps(p["ci_mu"], PAPER["table1_mu"]) and _overlaps(p["ci_sigma"], PAPER["table1_sigma"])
    rows.append(
        _row(
            claims[1][0],
            claims[1][1],
            claims[1][2] + " over four GANs",
            f"DCGAN faces: mu {_ci(p['mu'], p['ci_mu'])}, sigma {_ci(p['sigma'], p['ci_sigma'])} ({sub})",
            "partly reproduced" if inside else "not reproduced",
            "partly if both intervals (anchors and samples resampled) overlap the paper's ranges (a different "
            "generator and descriptor: never 'reproduced')",
            ch,
        )
    )
    st = r.get("stability")
    if st is None or st.get("ci_at_1e4") is None:
        rows.append(
            _not_run(
                "On faces, MCCS stabilises by |C| ≈ 10^4",
                "000 Fig. 2",
                "stable by |C| ≈ 10^4",
                ch,
                "this build's |T| stops below 10^4 (smoke scale)",
            )
        )
    else:
        est4, ci4, ci_end, n_end = st["mccs_at_1e4"], st["ci_at_1e4"], st["ci_at_end"], st["n_end"]
        half = (ci4[1] - ci4[0]) / 2
        agree = _overlaps(ci4, ci_end)
        rows.append(
            _row(
                "On faces, MCCS stabilises by |C| ≈ 10^4",
                "000 Fig. 2",
                "stable by |C| ≈ 10^4",
                f"MCCS(I_w) at |T| = {st['n_1e4']}: {_ci(est4, ci4)} (half-width {100 * half / est4:.1f}%); at "
                f"|T| = {n_end}: {_ci(st['mccs_at_end'], ci_end)}",
                "reproduced" if agree and half <= 0.05 * est4 else ("partly reproduced" if agree else "not reproduced"),
                "reproduced if the interval at |C| ≈ 10^4 overlaps the one at the largest |C| and its half-width is "
                "at most 5%; partly if it overlaps but is wider",
                ch,
            )
        )
    f3 = r.get("fig3")
    if f3 is None or f3.get("at_1e4") is None:
        rows.append(
            _not_run(
                "On faces, (mu, sigma) stabilise at |C| ≈ 10^4",
                "000 Fig. 3",
                "stable at |A| = |C| = 10^4",
                ch,
                "this build's |T| stops below 10^4 (smoke scale)",
            )
        )
    else:
        a, e = f3["at_1e4"], f3["at_end"]
        agree = _overlaps(a["ci_mu"], e["ci_mu"]) and _overlaps(a["ci_sigma"], e["ci_sigma"])
        rows.append(
            _row(
                "On faces, (mu, sigma) stabilise at |C| ≈ 10^4",
                "000 Fig. 3",
                "stable at |A| = |C| = 10^4",
                f"at |T| = {a['n']}: mu {_ci(a['mu'], a['ci_mu'])}, sigma {_ci(a['sigma'], a['ci_sigma'])}; at |T| = "
                f"{e['n']}: mu {_ci(e['mu'], e['ci_mu'])}, sigma {_ci(e['sigma'], e['ci_sigma'])} "
                f"(|A| = {f3['n_anchors']})",
                "reproduced" if agree else "not reproduced",
                "reproduced if the intervals of mu and of sigma at |C| ≈ 10^4 overlap those at the largest |C|",
                ch,
            )
        )
    f1 = r.get("fig1")
    if f1 is not None:
        big = [same for n, same in zip(f1["a_sizes"], f1["same_as_largest"]) if n >= 1000]
        rows.append(
            _row(
                "On faces, I_w is the same identity for every |A| from 10^3 up",
                "000 Fig. 1; 001 Fig. 2",
                "same face for |A| ≥ 1k",
                f"I_w within r of the largest |A|'s I_w: {dict(zip(f1['a_sizes'], f1['same_as_largest']))}",
                "not run here"
                if not big
                else ("reproduced" if all(big) else ("partly reproduced" if any(big[:-1]) else "not reproduced")),
                "reproduced if the I_w of every |A| ≥ 1000 lies within r (the descriptor's same-identity radius) of "
                "the I_w of the largest |A|; 'not run here' when |A| < 1000 (smoke scale)",
                ch,
            )
        )
    f4 = r.get("fig4")
    if f4 is not None:
        dw, dr, rr = f4["worst_median_nn_distance"], f4["random_median_nn_distance"], r["r"]
        rows.append(
            _row(
                "I_w's 80 nearest samples are almost identical to it; a random anchor's are diverse",
                "000 Fig. 4",
                "visual: 80 neighbours of I_w look alike, of I_r do not",
                f"median distance of the 80 nearest samples of T: I_w {_fmt(dw)}, random anchor {_fmt(dr)}; r = "
                f"{_fmt(rr)} (the images are in chapter 7)",
                "reproduced" if dw <= rr < dr else ("partly reproduced" if dw < dr else "not reproduced"),
                "reproduced if I_w's neighbours lie within r (same identity by the descriptor's own threshold) and "
                "the random anchor's beyond it; partly if only I_w's are closer",
                ch,
            )
        )
    f7 = r.get("fig7")
    if f7 is not None:
        frac = f7["raw_top_within_r_of_worst"]
        rows.append(
            _row(
                "The top-24 modes within 0.25 look alike",
                "000 Fig. 7",
                "24 near-identical faces",
                f"of the raw top-{f7['n']} anchors by count, {100 * frac:.0f}% lie within r of I_w; they fall in "
                f"{f7['raw_top_distinct']} distinct modes (images in chapter 7)",
                "reproduced" if frac >= 0.5 else ("partly reproduced" if frac > 0 else "not reproduced"),
                "reproduced if at least half of the raw top-24 lie within r of I_w (one collapsed identity); partly "
                "if some do",
                ch,
            )
        )
    s1 = r.get("seed001_fig1")
    if s1 is not None:
        rows.append(
            _row(
                "On faces, R_obs leaves the R_ref band (seed 001's test finds collapse)",
                "001 Alg. 1, Fig. 1",
                "R_obs far outside the band for StyleGAN and PGGAN",
                f"I_w (selected on S) against {s1['q']} random anchors on T: pointwise band "
                f"{'left' if s1['pointwise_rejects'] else 'not left'}; global ERL envelope p = {_fmt(s1['erl_p'])}",
                "reproduced"
                if s1["erl_p"] < 0.05
                else ("partly reproduced" if s1["pointwise_rejects"] else "not reproduced"),
                "reproduced if the global envelope test rejects at 0.05; partly if only the pointwise band is left "
                "(a band tested at 41 radii has no stated level, chapter 2)",
                ch,
            )
        )
    fm = r.get("forms")
    if fm is not None:
        rows.append(
            _row(
                "The paper's MCCS values fit the authors' code form, not Eq. 7",
                "000 Eq. 7 vs the authors' code; Fig. 2",
                "random anchor 0.34, I_w 0.62",
                f"at θ = {_fmt(fm['theta'])}: a random anchor of 0.34 needs a mean similarity of "
                f"{fm['implied']['code']:.2g} (code form) or {fm['implied']['paper']:.2g} (Eq. 7); our anchors' "
                f"mean similarities span {fm['m_q05']:.2g}–{fm['m_q95']:.2g} (5–95%), at most {fm['m_max']:.2g}",
                "reproduced"
                if fm["code_inside"] and not fm["paper_inside"]
                else ("not reproduced" if fm["paper_inside"] and not fm["code_inside"] else "partly reproduced"),
                "reproduced if the code form's implied mean similarity lies within our anchors' 5–95% range and Eq. "
                "7's lies above every anchor's; not if the opposite; partly if both or neither fit (one descriptor)",
                ch,
            )
        )
    return rows


def grade_faces(results: dict) -> list[dict]:
    """Ledger rows for chapters 3 (Table 1 analogue) and 7 (the paper's face figures)."""
    return _table1(results) + _figures(results)
