"""Shared helpers of the lab's training tests (``from lab_helpers import ...``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from bbcollapse.lab import DataSpec, GanConfig, fashion_mnist_dir
from bbcollapse.lab.data import FILES

needs_data = pytest.mark.skipif(
    not all((fashion_mnist_dir() / f).is_file() for f in FILES["train"]),
    reason="Fashion-MNIST not installed (make setup, or FASHION_MNIST_DIR)",
)


@pytest.fixture
def one_thread():
    """One torch thread: on a busy 2-core machine two threads make these tiny networks ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(**changes) -> GanConfig:
    """A configuration that trains in well under a second: 14 px, 4 channels, batches of 8."""
    base = dict(arch="dcgan", resolution=14, width=4, latent_dim=8, batch_size=8, steps=6, data=DataSpec.balanced(5))
    return GanConfig(**{**base, **changes})


def weights(run, kind="G", step=None) -> dict:
    step = run.config.steps if step is None else step
    return load_file(str(run.path / f"{kind}-step{step:07d}.safetensors"))


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
