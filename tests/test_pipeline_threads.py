"""The face pipelines' worker threads run torch on the caller's thread count (torch keeps it per thread)."""

import os
import time

import numpy as np
import pytest
import torch

from bbcollapse.subjects.faces.pipeline import pipelined


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to tell one thread from two")
def test_workers_keep_the_callers_torch_thread_count():
    """With torch.set_num_threads(1) in the caller, a convolution in a worker uses one core.

    Before, a worker thread's convolutions ran on OpenMP's default team (every core): CPU time about
    twice the wall time on two idle cores.  Timed over a window of 0.4 s, so that the process CPU clock
    has counted every thread (it adds other threads' time at their scheduler ticks).
    """
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
    x = torch.randn(8, 64, 56, 56)
    ratios = []

    def embed(_):
        with torch.inference_mode():
            conv(x)  # warm
            w0, c0, n = time.perf_counter(), time.process_time(), 0
            while time.perf_counter() - w0 < 0.4:
                conv(x)
                n += 1
            ratios.append((time.process_time() - c0) / (time.perf_counter() - w0))
        return np.zeros((1, 1), np.float32)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pipelined(1, 1, lambda s, e: None, embed, 1, workers=1)
    finally:
        torch.set_num_threads(before)
    assert ratios[0] < 1.4, f"a worker used {ratios[0]:.2f} cores for torch with torch.set_num_threads(1)"
