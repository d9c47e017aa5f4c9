"""The ledger's grades follow its stated rules (they can flip either way)."""
from book.ledger import GRADES, grade_claims


def band_result(rate, lo):
    cell = lambda r, l: {"rate": r, "ci95": [l, min(1.0, r + 0.05)], "n": 200}
    fa = {k: cell(rate if k == "pointwise" else 0.05, lo if k == "pointwise" else 0.03)
          for k in ("pointwise", "erl", "mad", "selection_erl", "selection_mad")}
    power = {"0.05": {"anchors": {k: {"rate": 0.99} for k in fa}}}
    return {"02_testing_collapse": {"false_alarm": {"anchors": fa}, "power": power, "setting": {"alpha": 0.05}}}


def test_band_level_grade_flips_with_the_measured_rate():
    bad = {r["claim"]: r["grade"] for r in grade_claims(band_result(0.5, 0.44))}
    good = {r["claim"]: r["grade"] for r in grade_claims(band_result(0.06, 0.03))}
    key = "The pointwise band over 41 radii is a test at level α = 0.05"
    assert bad[key] == "not reproduced" and good[key] == "reproduced"


def test_every_row_has_a_known_grade_even_without_results():
    rows = grade_claims({})
    assert rows and all(r["grade"] in GRADES for r in rows)
    assert any(r["grade"] == "missing result" for r in rows)
