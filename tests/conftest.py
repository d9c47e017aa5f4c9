import numpy as np
import pytest
import torch

# Re-exported for test files that still do `from conftest import rand_unit`; new code imports
# from helpers (conftest is pytest's plugin file, not a module to import from).
from helpers import rand_unit  # noqa: F401

torch.set_num_threads(2)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
