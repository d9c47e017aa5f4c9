"""A smoke-scale build of the whole book: every notebook executes and its HTML page carries its figures."""

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_book.py"), "--scale", "smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,  # 11 chapters, some training lab models from a cold cache
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def pages():
    """The chapters in the table of contents: the pages executed from notebooks/ (not intro or references)."""
    toc = (ROOT / "_toc.yml").read_text()
    return [name for name in re.findall(r"file:\s*book/(\S+)", toc) if (ROOT / "notebooks" / f"{name}.py").exists()]


def test_every_chapter_has_html_with_a_figure(built):
    html_dir = built / "_build" / "html" / "book"
    for name in pages():
        page = html_dir / f"{name}.html"
        assert page.exists(), f"{page} missing"
        text = page.read_text()
        if name.startswith("99_"):
            assert "<table" in text, f"{name}: the ledger has no table"
        else:
            assert re.search(r"<img[^>]+(src=\"[^\"]+\.png\"|data:image/png)", text), f"{name}: no figure in the HTML"
        assert "injected-parameters" not in text, f"{name}: papermill's parameters cell is visible"


def test_results_written_for_every_notebook(built):
    for name in pages():
        if not name.startswith("99_"):
            assert (built / "data" / "results" / f"{name}.json").exists(), name


def test_mathjax_is_vendored(built):
    html = (built / "_build" / "html" / "book" / "01_planted_collapse.html").read_text()
    srcs = re.findall(r"<script[^>]+src=\"([^\"]*mathjax[^\"]*)\"", html, flags=re.I)
    assert srcs and all("://" not in s for s in srcs), srcs
    assert (built / "_build" / "html" / "mathjax" / "tex-svg.js").exists()
    assert not list((built / "_build" / "html" / "_static").glob("**/tex-svg.js"))


def executed_notebooks(built):
    import nbformat

    found = sorted((built / "book").glob("[0-9][0-9]_*.ipynb"))
    assert found, "no executed notebook"
    return [(p.stem, nbformat.read(p, as_version=4)) for p in found]


def test_code_cells_are_folded(built):
    """Every code cell is folded (hide-input) or removed (papermill's parameters); the HTML folds them."""
    for name, nb in executed_notebooks(built):
        code = [c for c in nb.cells if c.cell_type == "code"]
        bare = [i for i, c in enumerate(code) if not {"hide-input", "remove-cell"} & set(c.metadata.get("tags", []))]
        assert not bare, f"{name}: code cells {bare} are printed in full"
        folded = sum("hide-input" in c.metadata.get("tags", []) for c in code)
        html = (built / "_build" / "html" / "book" / f"{name}.html").read_text()
        # MyST-NB renders a hide-input cell as a <details class="hide above-input"> whose source is inside it
        assert html.count("hide above-input") == folded, f"{name}: {html.count('hide above-input')} folded of {folded}"


def bib_keys():
    return re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), flags=re.M)


def test_references_page_lists_every_entry_and_chapters_cite_it(built):
    assert re.search(r"file:\s*book/references\b", (ROOT / "_toc.yml").read_text()), "references page not in the toc"
    html_dir = built / "_build" / "html" / "book"
    refs = (html_dir / "references.html").read_text()
    titles = re.findall(r"^\s*title\s*=\s*\{(.+)\},?$", (ROOT / "references.bib").read_text(), flags=re.M)
    assert len(titles) == len(bib_keys()) >= 5
    text = html.unescape(refs).lower()
    for title in titles:
        # the first words of the title survive any bibliography style (which may change their case)
        words = re.sub(r"[{}\\]", "", title).lower().split()[:3]
        assert re.search(r"\s+".join(map(re.escape, words)), text), f"{title!r} missing from the references page"
    cited = set()
    for page in html_dir.glob("*.html"):
        text = page.read_text()
        assert "{cite}" not in text, f"{page.name}: an unparsed citation role"
        cited |= set(re.findall(r'href="references\.html#(id\d+)"', text))
    assert cited, "no chapter links a citation to the references page"
    anchors = set(re.findall(r'id="(id\d+)"', refs))
    assert cited <= anchors, f"citations pointing nowhere: {sorted(cited - anchors)}"


def test_pages_reach_no_network(built):
    """No script, stylesheet or image is fetched from another host when a page is read."""
    html_dir = built / "_build" / "html"
    for page in html_dir.rglob("*.html"):
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page.read_text(), flags=re.I):
            src = re.search(r'\b(?:src|href)="([^"]*)"', tag)
            assert not (src and re.match(r"(https?:)?//", src.group(1))), f"{page.relative_to(html_dir)}: {tag}"


# -- the chapters' shared helpers (notebooks/_book.py), without a build -------------------------------------------
def test_at_scale_picks_and_rejects():
    from notebooks._book import at_scale

    assert at_scale("smoke", {"smoke": 1, "default": 2}) == 1
    with pytest.raises(ValueError, match="SCALE must be one of"):
        at_scale("huge", {"smoke": 1})


def test_cached_computes_once_and_reads_back(tmp_path):
    import numpy as np

    from notebooks._book import cached

    calls = []

    def compute():
        calls.append(1)
        return np.arange(6.0).reshape(2, 3), np.array([1, 2])

    first = cached(tmp_path / "sub" / "pair.npz", compute)
    again = cached(tmp_path / "sub" / "pair.npz", compute)
    assert len(calls) == 1 and all((a == b).all() for a, b in zip(first, again, strict=True))
    one = cached(tmp_path / "one.npy", lambda: np.float32([0.5, 1.5]))
    assert cached(tmp_path / "one.npy", lambda: None).dtype == np.float32 and (one == [0.5, 1.5]).all()
    with pytest.raises(ValueError, match=".npy"):
        cached(tmp_path / "x.pkl", compute)


def test_results_round_trip_with_numpy_values(tmp_path):
    import json

    import numpy as np

    from notebooks._book import read_results, write_results

    assert read_results(tmp_path, "none") is None
    path = write_results(
        tmp_path / "r", "07_x", {"a": np.int64(3), "b": np.float32(0.5), "c": np.arange(2), "d": (1, 2)}
    )
    assert path.read_text() == json.dumps({"a": 3, "b": 0.5, "c": [0, 1], "d": [1, 2]}, indent=1)
    assert read_results(tmp_path / "r", "07_x")["c"] == [0, 1]


def test_mc_rate_against_the_beta_quantiles():
    from scipy import stats

    from notebooks._book import mc_rate

    k, n = 7, 40
    r = mc_rate(k, n)
    # Clopper-Pearson from its definition: Beta quantiles (independent of scipy's binomtest)
    lo, hi = stats.beta.ppf(0.025, k, n - k + 1), stats.beta.ppf(0.975, k + 1, n - k)
    assert abs(r["ci95"][0] - lo) < 1e-9 and abs(r["ci95"][1] - hi) < 1e-9
    assert r["rate"] == 7 / 40 and abs(r["mc_se"] - (7 / 40 * 33 / 40 / 40) ** 0.5) < 1e-15
