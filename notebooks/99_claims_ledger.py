# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Claims ledger
#
# Each claim of the paper (000, {cite}`wu2021blackbox`) and of its earlier version (001,
# {cite}`anon_modecollapse`), and of seeds 002 and 004 for the remedies of chapter 9, graded from the
# numbers the chapters of this book measured.  The papers' values are typed once, in `book/ledger*.py`
# (one module per group of chapters), labelled as the papers'; every value of ours is read from
# `data/results/*.json` of this build, as the chapters measured it.
#
# Grades: **reproduced**, **partly reproduced** (the effect holds on our substitute subjects but the
# paper's setting or size could not be matched, or only part of the claim holds), **not reproduced**
# (we measured the opposite or no effect), **not run here** (needs models or data that cannot be had
# offline, or sizes this build did not reach), **missing result** (the chapter did not run).
#
# Every rule is a test that a wrong result fails (`tests/test_ledger*.py` feed each one such a
# result): an effect counts only when its 95% interval excludes "no effect" (for chapter 8, when the
# Clopper-Pearson intervals of two detection powers do not overlap), a comparison with a published
# table allows a stated tolerance, and a worst case is compared as scored on samples that did not
# select it.

# %% tags=["parameters", "hide-input"]
SCALE = "default"
RESULTS_DIR = "data/results"
CACHE_DIR = "data/cache"

# %% tags=["hide-input"]
import json
from collections import Counter
from pathlib import Path

from IPython.display import HTML, display

from book.ledger import grade_claims, ledger_html

results = {p.stem: json.loads(p.read_text()) for p in sorted(Path(RESULTS_DIR).glob("*.json"))}
rows = grade_claims(results)
print(f"scale={SCALE}; results read: {sorted(results)}; grades: {dict(Counter(r['grade'] for r in rows))}")
display(HTML(ledger_html(rows)))
(Path(RESULTS_DIR).parent / "ledger.json").write_text(json.dumps(rows, indent=1)) if SCALE == "default" else None
