#!/usr/bin/env python
"""Execute the notebooks with papermill and build the Jupyter Book.

    python tools/build_book.py [--scale smoke|default|paper] [--out DIR] [--only NAME ...]
                               [--no-html] [-p NAME VALUE ...]

* Sources are jupytext percent files ``notebooks/NN_name.py``; each is executed by
  papermill (cwd = repository root) into ``<out>/book/NN_name.ipynb`` with the
  parameters ``SCALE``, ``RESULTS_DIR`` and ``CACHE_DIR`` (plus any ``-p``).
* Caching: a notebook is re-executed only when its source, its parameters, the
  library's source or the chapters' shared helpers (``notebooks/_book.py``) changed
  (a hash stored in the executed notebook's metadata); the claims ledger (``99_*``),
  which reads every chapter's results, always re-runs.
* papermill's injected-parameters cell is tagged ``remove-cell`` so the HTML hides it.
* ``--jobs 2`` (the default on a machine with 2 or more cores) runs two chapters at once, each
  kernel with its share of the cores (``OMP_NUM_THREADS``), as soon as what they read is there:
  chapters 08-11 read the generators, classifier and encoder that chapter 06 trains into the cache,
  so they start after it (the training locks make two chapters that need the same network train it
  once); the face chapters share the resumable face stores and run one after the other;
  the ledger (99) runs last.  Longest first: 06, then the face chapters beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
BOOK_FILES = ["_config.yml", "_toc.yml", "references.bib"]
#: chapter -> chapters it must wait for: 08-11 read 06's cache (08 also 03's theta and r); the chapters that
#: fill and read the face stores (03, 04, 05, 07; a store is locked by one process at a time) run one after the
#: other; 99 (the ledger) waits for every other chapter
AFTER = {"08": {"06", "03"}, "09": {"06"}, "10": {"06"}, "11": {"06"}, "04": {"03"}, "05": {"04"}, "07": {"05"}}
#: the order in which ready chapters start (longest first); chapters not listed start last, in file order
FIRST = ("06", "03", "10", "09", "11", "04", "08", "07", "02", "01", "05")


def tree_hash(*paths: Path) -> str:
    h = hashlib.sha256()
    for base in paths:
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def notebooks(only):
    found = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
    if only:
        wanted = {o.removesuffix(".py") for o in only}
        missing = wanted - {p.stem for p in found}
        if missing:
            sys.exit(f"build_book: no notebook named {sorted(missing)} in notebooks/ (have {[p.stem for p in found]})")
        found = [p for p in found if p.stem in wanted]
    return found


def parse_value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def execute(src: Path, out_nb: Path, params: dict, lib_hash: str, force: bool) -> str:
    import jupytext
    import nbformat
    import papermill as pm

    key = hashlib.sha256(f"{src.read_bytes()!r}{sorted(params.items())!r}{lib_hash}".encode()).hexdigest()[:16]
    if out_nb.exists() and not force:
        try:
            old = nbformat.read(out_nb, as_version=4)
            if old.metadata.get("bbcollapse", {}).get("key") == key:
                return "cached"
        except Exception:
            pass
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tmp_in = out_nb.with_suffix(".src.ipynb")
    tmp_out = out_nb.with_suffix(".tmp.ipynb")
    nbformat.write(nb, tmp_in)
    try:
        pm.execute_notebook(
            str(tmp_in),
            str(tmp_out),
            parameters=params,
            cwd=str(ROOT),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
        )
    finally:
        tmp_in.unlink(missing_ok=True)
    done = nbformat.read(tmp_out, as_version=4)
    for cell in done.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
    done.metadata["bbcollapse"] = {"key": key, "params": params}
    nbformat.write(done, out_nb)  # atomic enough: written only after a successful run
    tmp_out.unlink(missing_ok=True)
    return "executed"


def run_pool(chosen, run_one, *, jobs: int) -> None:
    """Run ``run_one(notebook)`` for every notebook, ``jobs`` at a time, each once what it waits for is done.

    A chapter waits for the chapters :data:`AFTER` names (those that are being run); the ledger (99) for all.
    """
    import threading

    stems = {p.stem[:2]: p for p in chosen}
    rank = {k: i for i, k in enumerate(FIRST)}
    pending = sorted(chosen, key=lambda p: (p.stem.startswith("99_"), rank.get(p.stem[:2], len(FIRST)), p.stem))
    done: set[str] = set()
    cond = threading.Condition()

    def ready(p) -> bool:
        if p.stem.startswith("99_"):
            return all(q.stem[:2] in done for q in chosen if q is not p)
        return all(d in done for d in AFTER.get(p.stem[:2], ()) if d in stems)

    def worker():
        while True:
            with cond:
                while pending and not any(ready(p) for p in pending):
                    cond.wait()
                if not pending:
                    return
                p = next(q for q in pending if ready(q))
                pending.remove(p)
            try:
                run_one(p)
            finally:
                with cond:
                    done.add(p.stem[:2])
                    cond.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="default", choices=["smoke", "default", "paper"])
    ap.add_argument("--out", default=str(ROOT), help="where book/ (executed notebooks) and _build/ go")
    ap.add_argument("--only", nargs="*", default=None, help="notebook names (e.g. 01_planted_collapse)")
    ap.add_argument("--no-html", action="store_true", help="execute only, do not build the HTML")
    ap.add_argument("--force", action="store_true", help="re-execute even when cached")
    ap.add_argument(
        "--jobs",
        type=int,
        default=2 if (os.cpu_count() or 1) >= 2 else 1,
        help="chapters run at once, each as soon as the chapters it reads are done (default 2 on >= 2 cores)",
    )
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="papermill parameter")
    args = ap.parse_args(argv)

    out = Path(args.out).resolve()
    in_repo = out == ROOT
    (out / "book").mkdir(parents=True, exist_ok=True)
    results = ROOT / "data" / "results" if in_repo else out / "data" / "results"
    cache = ROOT / "data" / "cache" if in_repo else out / "data" / "cache"
    results.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    if not in_repo:
        for name in BOOK_FILES:
            if (ROOT / name).exists():
                shutil.copy2(ROOT / name, out / name)
        for f in (ROOT / "book").iterdir():
            if f.suffix == ".md":
                shutil.copy2(f, out / "book" / f.name)
        if (ROOT / "book" / "_extra").exists():
            shutil.copytree(ROOT / "book" / "_extra", out / "book" / "_extra", dirs_exist_ok=True)

    params = {"SCALE": args.scale, "RESULTS_DIR": str(results), "CACHE_DIR": str(cache)}
    for name, value in args.p:
        params[name] = parse_value(value)
    lib_hash = tree_hash(ROOT / "lib" / "bbcollapse", NB_DIR / "_book.py")
    failures = []

    def run_one(src):
        t0 = time.time()
        try:
            # the ledger (99_*) reads every chapter's results: cheap, and never cached
            force = args.force or src.stem.startswith("99_")
            status = execute(src, out / "book" / f"{src.stem}.ipynb", params, lib_hash, force)
        except Exception as exc:  # keep going; report at the end
            detail = f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}"
            status = f"FAILED ({detail}); partial output in book/{src.stem}.tmp.ipynb"
            failures.append(src.stem)
        print(f"[book] {src.stem:32s} {status:10s} {time.time() - t0:7.1f} s", flush=True)

    start = time.time()
    chosen = notebooks(args.only)
    if args.jobs > 1:
        # each kernel gets its share of the cores; more threads than cores makes torch spin, not work
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // args.jobs)))
    run_pool(chosen, run_one, jobs=args.jobs)
    print(f"[book] notebooks done in {time.time() - start:.1f} s (jobs {args.jobs})", flush=True)
    if failures:
        sys.exit(f"build_book: notebooks failed: {failures}")
    if not args.no_html:
        jb = Path(sys.executable).with_name("jupyter-book")
        cmd = [str(jb), "build", str(out), "--builder", "html"]
        print("[book]", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        print(f"[book] HTML: {out / '_build' / 'html' / 'index.html'}")


if __name__ == "__main__":
    main()
