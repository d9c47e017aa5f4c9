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
# {cite}`anon_modecollapse`), graded from the numbers the
# chapters of this book measured (read from `data/results/*.json` of this build; nothing is
# typed in).  Grades: **reproduced**, **partly reproduced** (the effect holds on our
# substitute subjects but the paper's setting or size could not be matched), **not
# reproduced** (we measured the opposite or no effect), **not run here** (needs models or
# data that cannot be had offline).

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
