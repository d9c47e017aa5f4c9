"""Shared test helpers (imported as ``from helpers import ...``; pytest puts tests/ on sys.path).

Fixtures live in conftest.py; plain functions that several test files call live here, so that no
test imports from conftest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np


def rand_unit(rng: np.random.Generator, n: int, d: int, dtype=np.float32) -> np.ndarray:
    """``n`` points uniform on the unit sphere in ``d`` dimensions, shape ``(n, d)``, cast to ``dtype``."""
    x = rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(dtype)


def doc_blocks(path) -> list[tuple[str, str]]:
    """Fenced blocks of a markdown file: (info string, code).

    ```python and ```bash blocks are run by :func:`run_doc_blocks`; ```py, ```sh and ```console are not.
    """
    return re.findall(r"^```(\w+)\n(.*?)^```$", Path(path).read_text(), flags=re.S | re.M)


def run_doc_blocks(path, **env) -> dict:
    """Run the python and bash blocks of ``path`` in order, in the current directory; returns the python namespace.

    Python blocks share one namespace; bash blocks run with ``bash -e`` and this interpreter's bin/ first on
    PATH (plus ``env``), and fail the test with the block and its stderr when they exit non-zero.
    """
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env)
    namespace: dict = {}
    for kind, code in doc_blocks(path):
        if kind == "python":
            exec(compile(code, str(path), "exec"), namespace)
        elif kind == "bash":
            proc = subprocess.run(["bash", "-e", "-c", code], env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{code}\n--- stderr ---\n{proc.stderr[-3000:]}"
    return namespace


def crashing_sampler(sampler, fail_after: int, identity: str):
    """``(wrapped, state)``: ``sampler`` that raises KeyboardInterrupt (a simulated crash) once it would draw past
    ``state["fail_after"]`` samples in all; ``state["samples"]`` counts what it drew (reset both to resume)."""
    state = {"samples": 0, "fail_after": fail_after}

    def wrapped(seed, n):
        if state["samples"] + n > state["fail_after"]:
            raise KeyboardInterrupt("simulated crash in the middle of C")
        state["samples"] += n
        return sampler(seed, n)

    wrapped.identity = identity
    return wrapped, state
