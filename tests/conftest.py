import numpy as np
import pytest

import torch

torch.set_num_threads(2)


def rand_unit(rng, n, d, dtype=np.float32):
    x = rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
