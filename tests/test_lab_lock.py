"""The lab's training lock: one process trains a configuration, the others wait, time out or take over.

References: an in-process uninterrupted run of the same configuration (weights bit for bit), the
lock held directly with ``fcntl.flock`` (so the waiting side is tested against the kernel, not
against itself), and a holder killed with a real SIGKILL.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bbcollapse.lab import train
from bbcollapse.lab.cache import exclusive_lock, lock_holder
from bbcollapse.lab.trainer import LOCK_FILE
from lab_helpers import needs_data, one_thread, same, tiny, weights  # noqa: F401 (one_thread: a fixture)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_lock_excludes_another_open_file_and_is_released_after_the_block(tmp_path):
    path = tmp_path / "x.lock"
    waits = []
    with exclusive_lock(path):
        assert lock_holder(path) == os.getpid()
        fd = os.open(path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # the kernel's view: the file is locked
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="still locked by another process after"):
            with exclusive_lock(path, timeout=0.3, poll=0.05, on_wait=waits.append):
                pass
        assert 0.3 <= time.monotonic() - t0 < 2
    assert waits[0] < 0.05 and waits == sorted(waits) and len(waits) >= 3
    with exclusive_lock(path, timeout=0):  # released: taken at once
        pass
    assert path.exists()  # kept: removing it would let two processes lock two files of one name


@needs_data
def test_train_waits_for_a_lock_held_elsewhere_and_times_out_in_one_clear_error(tmp_path, caplog):
    config = tiny()
    folder = tmp_path / config.folder_name
    folder.mkdir()
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(TimeoutError, match="still locked"):
            train(config, cache_dir=tmp_path, progress=False, lock_timeout=0.5)
    finally:
        os.close(fd)
    assert "another process (pid 4242) is training this configuration" in caplog.text
    assert "at most 0.5 s" in caplog.text
    assert not (folder / "log.jsonl").exists() and not (folder / "done.json").exists()  # nothing was trained
    run = train(config, cache_dir=tmp_path, progress=False, lock_timeout=0)  # free now: trains at once
    assert run.summary["resumed_from"] == 0


HOLDER = """
import json, sys, time
import torch
torch.set_num_threads(1)
import bbcollapse.lab.objectives as objectives
from bbcollapse.lab import GanConfig, train
config = GanConfig.from_dict(json.loads(sys.argv[1]))
real = objectives.STEPS[config.arch]

def slow(*args):
    time.sleep(0.05)
    return real(*args)

objectives.STEPS[config.arch] = slow
train(config, cache_dir=sys.argv[2], progress=False, autosave_every=2)
"""


@needs_data
def test_a_waiter_takes_over_when_the_trainer_is_killed_and_resumes_to_the_same_weights(tmp_path, caplog):
    config = tiny(steps=200, checkpoints=(100,))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", HOLDER, json.dumps(config.to_dict()), str(tmp_path / "c")], env=env)
    folder = tmp_path / "c" / config.folder_name
    deadline = time.monotonic() + 120
    try:
        while not list(folder.glob("resume-step*.json")):
            assert child.poll() is None and time.monotonic() < deadline, "the child wrote no checkpoint"
            time.sleep(0.01)
        killer = threading.Timer(1.0, child.kill)  # SIGKILL while this process waits on the lock
        killer.start()
        with caplog.at_level(logging.WARNING):
            resumed = train(config, cache_dir=tmp_path / "c", progress=False)
        killer.join()
    finally:
        child.kill()
        child.wait()
    assert f"another process (pid {child.pid})" in caplog.text
    assert child.returncode == -9 and 0 < resumed.summary["resumed_from"] < config.steps
    straight = train(config, cache_dir=tmp_path / "s", progress=False)
    assert same(weights(resumed), weights(straight))
