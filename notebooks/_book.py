"""What the book's chapters share: the scale tables, array caches, results files and the paper-vs-ours table.

The chapters import it as ``from notebooks._book import ...``: papermill starts each kernel
in the repository root (``tools/build_book.py`` passes ``cwd``), the kernel puts its cwd on
``sys.path``, and ``notebooks/`` is then a namespace package, exactly as ``book.ledger`` is
for the claims ledger.  No chapter edits ``sys.path``.

Nothing here computes a statistic of the paper: those live in ``bbcollapse``.  This module
only picks sizes, caches arrays, reads and writes ``data/results/<chapter>.json`` and
formats tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "SCALES",
    "at_scale",
    "cached",
    "face_embeddings_path",
    "face_store",
    "face_theta_r",
    "embed_elsewhere",
    "FACE_STREAMS",
    "markdown_table",
    "mc_rate",
    "paper_vs_ours",
    "read_results",
    "say",
    "write_results",
]

SCALES = ("smoke", "default", "paper")


def at_scale(scale: str, table: Mapping[str, object]):
    """The entry of ``table`` for ``scale`` (one of ``SCALES``), with a clear error for any other."""
    if scale not in SCALES or scale not in table:
        raise ValueError(f"SCALE must be one of {[s for s in SCALES if s in table]}, got {scale!r}")
    return table[scale]


def write_results(results_dir: str | Path, name: str, result: Mapping, *, reasons: Mapping | None = None) -> Path:
    """Write ``result`` to ``<results_dir>/<name>.json``: strict JSON (indent 1), replaced atomically.

    A NaN or infinite value is written as ``null``, and the file's ``"null_reasons"`` says why:
    ``reasons`` maps a value's path (``/faces/variants/3/region_fraction``) to the chapter's
    reason; any other non-finite value gets a generic one.
    """
    from bbcollapse.diagnosis.jsonfile import dumps, write_text_atomic

    path = Path(results_dir) / f"{name}.json"
    return write_text_atomic(path, dumps(result, reasons=dict(reasons or {})))


def read_results(results_dir: str | Path, name: str) -> dict | None:
    """Another chapter's results of this build, or None when that chapter has not run."""
    path = Path(results_dir) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def cached(path: str | Path, compute: Callable[[], object]):
    """Compute once, then read back: ``.npy`` holds one array, ``.npz`` a tuple of arrays.

    The file name must say everything the value depends on (seed, size, scale): the cache
    is never invalidated otherwise.  Face embeddings are the slow part of the book.
    """
    path = Path(path)
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"cache files end in .npy (one array) or .npz (a tuple of arrays), got {path.name!r}")
    if path.exists():
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path) as d:
            return tuple(d[k] for k in sorted(d.files))
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, value, allow_pickle=False)
    else:
        np.savez_compressed(path, **{f"a{i}": a for i, a in enumerate(value)})
    return value


def face_embeddings_path(cache_dir: str | Path, scale: str) -> Path:
    """Where chapter 3 leaves its embedded sample set C (centred unit vectors) for chapter 5."""
    return Path(cache_dir) / "03_face_subject" / scale / "C_unit.npy"


#: The face chapters' seed streams (one store each, shared between chapters): anchors A, selection S, scoring T,
#: and chapter 4's pools (the calibrators' fitting set, the fresh before pool, the proposals, the quality reference).
FACE_STREAMS = {
    "A": (0,),
    "S": (1,),
    "T": (3,),
    "fit": (40,),
    "before_A": (41,),
    "before": (42,),
    "proposals_A": (43,),
    "proposals": (44,),
    "reference": (45,),
}
FACE_SEED = 2021


def face_store(cache_dir: str | Path, sampler, descriptor, part: str, *, shard_size: int = 500):
    """The EmbeddingStore of the face subject's stream ``part`` (a key of :data:`FACE_STREAMS`), shared by chapters.

    Its directory is keyed by the sampler's and descriptor's identities, so it follows whatever
    descriptor :func:`bbcollapse.subjects.faces.face_subject` returns; its shards are prefixes of one
    stream, so a larger scale extends what a smaller one embedded.  Fill with ``.fill(n)``, read with
    ``.embeddings(n)`` and ``.latents(n)``.
    """
    import hashlib

    import bbcollapse as bb

    key = hashlib.sha256(f"{bb.identity_of(sampler)}|{bb.identity_of(descriptor)}".encode()).hexdigest()[:12]
    path = Path(cache_dir) / "face_store" / key / part
    stream = FACE_STREAMS[part]
    return bb.EmbeddingStore(
        path, sampler=sampler, descriptor=descriptor, seed=FACE_SEED, stream=stream, shard_size=shard_size
    )


def face_theta_r(cache_dir: str | Path, sampler, descriptor, *, n: int = 60, n_views: int = 4):
    """theta and r for the face descriptor by chapter 3's rule (:func:`~bbcollapse.subjects.faces.choose_theta_r`).

    ``n`` faces of the reference stream and ``n_views`` identity-preserving views of each are embedded
    (cached by the descriptor's identity); r is the 95th percentile of face-to-view distances and theta
    the 5th percentile of face-to-face distances.  Returns the library's ``ThetaR``.
    """
    import hashlib

    import bbcollapse as bb
    from bbcollapse.subjects import faces

    key = hashlib.sha256(f"{bb.identity_of(sampler)}|{bb.identity_of(descriptor)}|{n}|{n_views}".encode()).hexdigest()
    path = Path(cache_dir) / "face_store" / f"theta_r_{key[:12]}.npz"

    def embed():
        x = sampler(bb.shard_seed(FACE_SEED, 9), n).x
        views = faces.face_views(x, seed=FACE_SEED, n_views=n_views)
        e_views = descriptor(views.reshape(-1, *views.shape[2:])).reshape(n, n_views, -1)
        return descriptor(x), e_views

    e, e_views = cached(path, embed)
    return faces.choose_theta_r(*faces.identity_distances(e, e_views))


#: CPU kernel sets a fresh interpreter can be restricted to (torch's dispatch and oneDNN's ISA): how an older
#: machine of the same kind would compute.
CPU_KERNELS = {
    "this machine": {},
    "AVX2 kernels": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "SSE4.1 kernels": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}


def embed_elsewhere(images, descriptors, *, kernels: str, threads: int, cache_dir) -> dict:
    """Embed ``images`` in a fresh interpreter with a CPU kernel set and a thread count.

    Parameters
    ----------
    images : uint8 (n, H, W, 3)
    descriptors : descriptor names for :func:`bbcollapse.subjects.faces.face_subject`, "main" for its default
    kernels : a key of :data:`CPU_KERNELS`
    threads : torch threads in that interpreter
    cache_dir : where the face descriptors' reference centres are cached

    Returns
    -------
    {descriptor name: (n, D) float32 embeddings}
    """
    import os
    import subprocess
    import sys
    import tempfile

    code = (
        "import sys, numpy as np, torch\n"
        "torch.set_num_threads(int(sys.argv[2]))\n"
        "from bbcollapse.subjects import faces\n"
        "x = np.load(sys.argv[1])\n"
        "for name in sys.argv[4:]:\n"
        "    kw = {} if name == 'main' else {'descriptor': name}\n"
        "    _, f = faces.face_subject(cache_dir=sys.argv[3], **kw)\n"
        "    np.save(f'{sys.argv[1]}.{name}.npy', np.asarray(f(x), np.float32))\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "x.npy")
        np.save(src, np.asarray(images), allow_pickle=False)
        env = {**os.environ, **CPU_KERNELS[kernels]}
        proc = subprocess.run(
            [sys.executable, "-c", code, src, str(threads), str(cache_dir), *descriptors],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"embedding in a fresh interpreter failed: {proc.stderr[-2000:]}")
        return {name: np.load(f"{src}.{name}.npy") for name in descriptors}


def markdown_table(rows: Sequence[Sequence[object]], header: Sequence[str]):
    """A Markdown table (rendered by the book, readable in Jupyter); cells are printed with ``str``."""
    from IPython.display import Markdown

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def say(text: str) -> None:
    """Show a sentence generated from the measurements as prose (it wraps, unlike printed output)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def paper_vs_ours(rows: Sequence[Sequence[object]]):
    """The closing comparison of a chapter: rows of (quantity, the paper's value, ours, agreement)."""
    return markdown_table(rows, ("quantity", "paper", "ours (this build)", "agreement"))


def mc_rate(k: int, n: int, *, events: str = "rejections") -> dict:
    """A rate measured over ``n`` simulated worlds: k/n, its Monte Carlo s.e. and a 95% Clopper-Pearson interval.

    How the book reports the false-alarm, power and coverage rates of its simulations; ``events``
    names what was counted (``"rejections"`` of a test, ``"covered"`` for an interval's coverage).
    """
    from scipy import stats

    ci = stats.binomtest(int(k), int(n)).proportion_ci(0.95)
    p = k / n
    return {
        "rate": p,
        "mc_se": float(np.sqrt(p * (1 - p) / n)),
        "ci95": [float(ci.low), float(ci.high)],
        events: int(k),
        "n": int(n),
    }
