"""Shared test helpers (imported as ``from helpers import ...``; pytest puts tests/ on sys.path).

Fixtures live in conftest.py; plain functions that several test files call live here, so that no
test imports from conftest.
"""

from __future__ import annotations

import numpy as np


def rand_unit(rng: np.random.Generator, n: int, d: int, dtype=np.float32) -> np.ndarray:
    """``n`` points uniform on the unit sphere in ``d`` dimensions, shape ``(n, d)``, cast to ``dtype``."""
    x = rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(dtype)
