"""The claims ledger: each claim of the paper graded from the book's measured results.

``grade_claims(results)`` takes ``{chapter_name: results_json}`` as written by the
notebooks to ``data/results/`` and returns one row per claim with the paper's figure,
ours, and a grade computed by an explicit rule (stated in the row).  Nothing here is a
measured value: every number comes from ``results``.
"""

from __future__ import annotations

__all__ = ["grade_claims", "ledger_html", "GRADES"]

GRADES = ("reproduced", "partly reproduced", "not reproduced", "not run here", "missing result")


def _get(d, *path, default=None):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def _fmt(x, nd=3):
    if x is None:
        return "—"
    if isinstance(x, (list, tuple)):
        return "(" + ", ".join(_fmt(v, nd) for v in x) + ")"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _row(claim, source, paper, ours, grade, rule, chapter):
    assert grade in GRADES, grade
    return {
        "claim": claim,
        "source": source,
        "paper": paper,
        "ours": ours,
        "grade": grade,
        "rule": rule,
        "chapter": chapter,
    }


def _planted(results):
    r = results.get("01_planted_collapse")
    ch = "01_planted_collapse"
    if r is None:
        return [
            _row("Worst-case dense mode finds a collapsed identity", "000 §3.1", "—", "—", "missing result", "", ch)
        ]
    rows = []
    n_rec, n_id = len(r["identities_recovered"]), r["n_identities"]
    rows.append(
        _row(
            "I_w and the distinct dense modes locate collapsed identities",
            "000 §3.1, Fig. 7",
            "top modes look alike (faces)",
            f"{n_rec}/{n_id} planted identities recovered; I_w in identity {r['worst_identity']}",
            "reproduced"
            if r["worst_identity"] == 0 and n_rec == n_id
            else ("partly reproduced" if n_rec else "not reproduced"),
            "reproduced if I_w lies in the heaviest planted identity and every identity is among the distinct modes",
            ch,
        )
    )
    w = r["mccs_worst"]
    med = r["efficiency"]["mccs_median_anchor"][-1]
    rows.append(
        _row(
            "MCCS(I_w) is far above a random anchor's",
            "000 Fig. 2",
            "0.62 vs 0.34 (faces)",
            f"{_fmt(w['measured'])} (truth {_fmt(w['truth'])}) vs {_fmt(med)} (planted world)",
            "reproduced" if w["measured"] > med and abs(w["measured"] - w["truth"]) < 0.05 else "not reproduced",
            "reproduced if MCCS(I_w) exceeds the median anchor and is within 0.05 of its float64 truth",
            ch,
        )
    )
    e = r["efficiency"]["rel_err_worst_at_1e4"]
    rows.append(
        _row(
            "MCCS stabilises by |C| ≈ 10^4",
            "000 Fig. 2",
            "stable by |C| ≈ 10^4",
            "—" if e is None else f"relative error of MCCS(I_w) at |C| = 10^4: {100 * e:.1f}%",
            "missing result" if e is None else ("reproduced" if e < 0.05 else "not reproduced"),
            "reproduced if MCCS(I_w) at |C| = 10^4 is within 5% of its truth",
            ch,
        )
    )
    pm, pt = r["population"]["measured"], r["population"]["truth"]
    rows.append(
        _row(
            "(mu, sigma) of MCCS summarise the population and stabilise",
            "000 Fig. 3",
            "stable at |A| = |C| = 10^4",
            f"measured {_fmt(pm)} vs truth {_fmt(pt)} at |A|={r['n_anchors']}, |C|={r['n_samples']}",
            "reproduced" if abs(pm[0] - pt[0]) < 0.02 and abs(pm[1] - pt[1]) < 0.02 else "not reproduced",
            "reproduced if both are within 0.02 of the truth",
            ch,
        )
    )
    ids = _get(r, "stability", "worst_identity_by_a")
    if ids is not None:
        big = [i for n, i in zip(r["stability"]["a_sizes"], ids) if n >= 1000] or ids[-1:]
        rows.append(
            _row(
                "I_w is the same identity for every |A| from 10^3 up",
                "000 Fig. 1",
                "same face for |A| ≥ 1k",
                f"identity of I_w by |A|: {dict(zip(r['stability']['a_sizes'], ids))}",
                "reproduced" if len(set(big)) == 1 and big[0] >= 0 else "not reproduced",
                "reproduced if I_w falls in one planted identity for all |A| ≥ 1000 (the largest |A| at smoke scale)",
                ch,
            )
        )
    return rows


def _testing(results):
    r, ch = results.get("02_testing_collapse"), "02_testing_collapse"
    if r is None:
        return [
            _row(
                "The neighbour-curve band test detects collapse at level 0.05",
                "001 Alg. 1, Fig. 1",
                "α = 0.05",
                "—",
                "missing result",
                "",
                ch,
            )
        ]
    fa = r["false_alarm"]["anchors"]
    alpha = r["setting"]["alpha"]
    pw, g = fa["pointwise"], fa["erl"]
    n = pw["n"]
    level_ok = pw["ci95"][0] <= alpha
    rows = [
        _row(
            "The pointwise band over 41 radii is a test at level α = 0.05",
            "001 Alg. 1 (band from R_ref, 2.5/97.5 percentiles)",
            f"α = {alpha}",
            f"false-alarm rate in {n} collapse-free worlds: {100 * pw['rate']:.1f}% (95% CI "
            f"{100 * pw['ci95'][0]:.1f}–{100 * pw['ci95'][1]:.1f}%); "
            f"global ERL envelope {100 * g['rate']:.1f}%, MAD {100 * fa['mad']['rate']:.1f}%",
            "reproduced" if level_ok else "not reproduced",
            "reproduced if the 95% CI of the measured false-alarm rate reaches down to α",
            ch,
        )
    ]
    masses = sorted(r["power"], key=float)
    top = masses[-1]
    p_point, p_sel = (
        r["power"][top]["anchors"]["pointwise"]["rate"],
        r["power"][top]["anchors"]["selection_mad"]["rate"],
    )
    rows.append(
        _row(
            "The band test detects a collapsed region (R_obs leaves the band)",
            "001 §4, Fig. 1",
            "R_obs leaves the band for faces",
            f"power at planted mass {top}: pointwise {100 * p_point:.0f}%, selection-aware global MAD "
            f"{100 * p_sel:.0f}% "
            f"(at a false-alarm rate of {100 * fa['selection_mad']['rate']:.1f}%)",
            "partly reproduced"
            if p_point > 0.8 and not level_ok
            else ("reproduced" if p_point > 0.8 else "not reproduced"),
            "the band does flag collapse (power > 80%), but only 'partly' when its level is not controlled: a global "
            "envelope reaches the same power at the stated level",
            ch,
        )
    )
    return rows


def _faces(results):
    r, ch = results.get("03_face_subject"), "03_face_subject"
    if r is None:
        return [
            _row(
                "Face GANs show intra-mode collapse (I_w stands out)",
                "000 Fig. 2, Table 1",
                "—",
                "—",
                "missing result",
                "",
                ch,
            )
        ]
    d = r["diagnosis"]["ours"]
    ratio = d["mccs_worst"] / d["mccs_median_anchor"] if d["mccs_median_anchor"] > 0 else float("inf")
    rows = [
        _row(
            "On faces, MCCS(I_w) is far above a random anchor's",
            "000 Fig. 2",
            "0.62 vs 0.34 (StyleGAN, InsightFace), ratio 1.82",
            f"{_fmt(d['mccs_worst'])} vs median anchor {_fmt(d['mccs_median_anchor'])}, ratio {ratio:.2f} "
            f"(DCGAN faces, dlib descriptor, θ={_fmt(d['theta'])}, r={_fmt(d['r'])}, |A|={r['sizes']['A']}, "
            f"|C|={r['sizes']['C']})",
            "partly reproduced" if ratio > 1.1 else "not reproduced",
            "partly: the ordering holds (ratio > 1.1) on a substitute generator and descriptor; the paper's values "
            "cannot be "
            "matched without its models",
            ch,
        )
    ]
    t1 = r["paper"]["table1"]
    mus = [v["mu_sigma"][0] for v in t1.values()]
    sig = [v["mu_sigma"][1] for v in t1.values()]
    inside = min(mus) <= d["mu"] <= max(mus) and min(sig) <= d["sigma"] <= max(sig)
    rows.append(
        _row(
            "Table 1 range of (mu, sigma) for face GANs",
            "000 Table 1",
            f"mu {min(mus)}–{max(mus)}, sigma {min(sig)}–{max(sig)} over four GANs",
            f"DCGAN faces: ({_fmt(d['mu'])}, {_fmt(d['sigma'])})",
            "partly reproduced" if inside else "not reproduced",
            "partly if both fall inside the paper's range across its four GANs (a different generator: never "
            "'reproduced')",
            ch,
        )
    )
    return rows


_CALIB_PARTS = (
    ("planted", "planted sphere D=12"),
    ("planted_high_dim", "planted sphere D=128"),
    ("faces", "DCGAN faces"),
)
_CALIB_VARIANTS = (
    (
        "gmm",
        "GMM reshaping lowers MCCS(I_w) at a small quality cost",
        "000 Alg. 1, Fig. 5",
        "(0.43, 0.06) → (0.41, 0.05); MCCS(I_w) 0.66 → 0.61; FID 5.93 → 5.95",
    ),
    (
        "rejection-output",
        "Rejection/importance sampling lowers MCCS(I_w) at a small quality cost",
        "000 Alg. 2, Fig. 6",
        "(0.46, 0.07) → (0.42, 0.06); MCCS(I_w) 0.69 → 0.64; FID 9.43 → 9.46",
    ),
    (
        "rejection-ball",
        "Alg. 2 with the authors' latent region test (ball around H)",
        "000 Alg. 2 / authors' code",
        "(0.46, 0.07) → (0.42, 0.06); MCCS(I_w) 0.69 → 0.64",
    ),
)


def _calibration(results):
    r, ch = results.get("04_calibration"), "04_calibration"
    if r is None:
        return [_row(c, src, paper, "—", "missing result", "", ch) for _, c, src, paper in _CALIB_VARIANTS]
    rows = []
    for name, claim, src, paper in _CALIB_VARIANTS:
        for part, label in _CALIB_PARTS:
            block = r.get(part) or {}
            v = next((x for x in block.get("variants", []) if x.get("variant") == name), None)
            if v is None or "mccs_old_worst_after" not in v:
                continue
            floor = _get(block, "quality_noise_floor", "frechet", default=block.get("frechet_noise_floor"))
            m0, m1, fd = v["mccs_old_worst_before"], v["mccs_old_worst_after"], v.get("quality_frechet")
            falls = m1 <= m0 - 0.02
            cheap = fd is not None and floor is not None and fd <= 5 * floor
            ours = f"MCCS(I_w) {_fmt(m0)} → {_fmt(m1)}"
            if "mu_after" in v:
                before, after = [v["mu_before"], v["sigma_before"]], [v["mu_after"], v["sigma_after"]]
                ours += f"; (mu, sigma) {_fmt(before)} → {_fmt(after)}"
            ours += f"; Fréchet (descriptor) {_fmt(fd, 4)} vs noise floor {_fmt(floor, 4)}"
            ours += f"; acceptance {_fmt(v.get('acceptance_rate'))}"
            rows.append(
                _row(
                    f"{claim} [{label}]",
                    src,
                    paper,
                    ours,
                    "reproduced" if falls and cheap else ("partly reproduced" if falls else "not reproduced"),
                    "reproduced if MCCS of the old I_w falls by ≥ 0.02 and the Fréchet distance stays within 5× its "
                    "sampling "
                    "noise floor; partly if only MCCS falls",
                    ch,
                )
            )
    return rows


def _sensitivity(results):
    r, ch = results.get("05_sensitivity"), "05_sensitivity"
    if r is None:
        return [
            _row(
                "Duplicates raise MCCS(I_w) while FID barely moves",
                "000 §4.2 (RIC vs RIC-aug)",
                "0.59 → 0.81; FID 15.36 → 15.93",
                "—",
                "missing result",
                "",
                ch,
            )
        ]
    rows = []
    for row, v in zip(r["rows"], r["verdicts"]):
        up = v["mccs_rel_change"] > 0.2
        ys = v["frechet_change_over_yardstick"]
        small_fd = ys is not None and ys < 0.25
        rows.append(
            _row(
                f"Duplicates raise MCCS(I_w) while FID barely moves [{row['subject']}]",
                "000 §4.2 (RIC vs RIC-aug)",
                "MCCS(I_w) 0.59 → 0.81; FID 15.36 → 15.93",
                f"MCCS(I_w) {_fmt(row['mccs_worst'][0])} → {_fmt(row['mccs_worst'][1])}; Fréchet (descriptor) "
                f"{_fmt(row['frechet'][0], 4)} → {_fmt(row['frechet'][1], 4)}"
                + ("" if ys is None else f" ({100 * ys:.0f}% of a planted 14% collapse's)"),
                "reproduced" if up and small_fd else ("partly reproduced" if up else "not reproduced"),
                "reproduced if MCCS(I_w) rises > 20% and the Fréchet change is < 25% of the planted-collapse "
                "yardstick; "
                "partly if only MCCS rises (or no yardstick exists)",
                ch,
            )
        )
    return rows


_NOT_RUN = [
    (
        "SN-DCGAN vs Pac(SN-DCGAN)(4): packing lowers MCCS",
        "000 §4.2",
        "(0.62, 0.18) → (0.54, 0.14); MCCS(I_w) 0.84 → 0.73",
        "needs the authors' CelebA-trained SN-DCGAN pair; no GAN training chapter exists yet",
    ),
    (
        "Table 1: StyleGAN / PGGAN / StyleGAN2 / BigGAN all collapse",
        "000 Table 1",
        "(0.41, 0.06) / (0.48, 0.07) / (0.31, 0.05) / (0.45, 0.07); MCCS(I_w) 0.64 / 0.72 / 0.56 / 0.69",
        "none of these weights can be downloaded here; chapter 3 diagnoses a DCGAN face generator instead (see its "
        "rows)",
    ),
    (
        "Collapse persists under data imbalance (CelebAHQ / FFHQ / GRIC)",
        "000 §5 (causes)",
        "collapse in all three",
        "needs the three data sets and StyleGAN training",
    ),
    (
        "Collapse persists across 10 random restarts",
        "000 §5 (causes)",
        "collapse in all restarts",
        "needs StyleGAN training",
    ),
    (
        "Collapse persists across checkpoints 7707 → 12000",
        "000 §5 (causes)",
        "(0.51, 0.09) → (0.43, 0.06)",
        "needs StyleGAN checkpoints",
    ),
    (
        "Collapse persists across resolutions 128 to 1024",
        "000 §5 (causes)",
        "collapse at every resolution",
        "needs StyleGAN at several resolutions",
    ),
]


def _not_run():
    return [_row(c, src, paper, "—", "not run here", why, "—") for c, src, paper, why in _NOT_RUN]


def grade_claims(results: dict) -> list[dict]:
    """Grade the paper's claims from the book's results (``{chapter: json}``)."""
    rows = []
    rows += _planted(results)
    rows += _testing(results)
    rows += _faces(results)
    rows += _calibration(results)
    rows += _sensitivity(results)
    for extra in _EXTRA_GRADERS:
        rows += extra(results)
    return rows + _not_run()


_EXTRA_GRADERS: list = []


def ledger_html(rows: list[dict]) -> str:
    """An HTML table of the ledger rows (escaped)."""
    from html import escape

    cols = ["claim", "source", "paper", "ours", "grade", "rule", "chapter"]
    colour = {"reproduced": "#d8f0d8", "partly reproduced": "#fff2cc", "not reproduced": "#f8d0d0"}
    out = ["<table class='ledger'>", "<thead><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr></thead><tbody>"]
    for r in rows:
        bg = colour.get(r["grade"], "#eeeeee")
        out.append(
            "<tr>"
            + "".join(
                f"<td style='background:{bg}'>{escape(str(r[c]))}</td>"
                if c == "grade"
                else f"<td>{escape(str(r[c]))}</td>"
                for c in cols
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)
