"""A smoke-scale build of the whole book: every notebook executes and its HTML page carries its figures."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), "--scale", "smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def pages():
    toc = (ROOT / "_toc.yml").read_text()
    return re.findall(r"file:\s*book/(\S+)", toc)


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
