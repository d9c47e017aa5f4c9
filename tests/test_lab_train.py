"""The lab's trainer: bit-for-bit determinism, resume after a real SIGKILL, divergence, cache, samplers.

The references are the trainer itself run another way: a second run of the same configuration
(determinism), an uninterrupted run (resume), a different seed (so the equality checks can fail),
and the protocol's own checks (``bb.sample_batch``) for the samplers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

import bbcollapse as bb
import bbcollapse.lab as bb_lab
from bbcollapse.lab import DataSpec, GanConfig, TrainingDiverged, train
from lab_helpers import needs_data, one_thread, same, tiny, weights  # noqa: F401 (one_thread: a fixture)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [needs_data, pytest.mark.usefixtures("one_thread")]


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "changes",
    [{}, {"arch": "sn-dcgan"}, {"arch": "wgan-gp", "n_critic": 2}, {"arch": "vae"}, {"arch": "sn-dcgan", "pack": 2}],
    ids=["dcgan", "sn-dcgan", "wgan-gp", "vae", "pac2-sn-dcgan"],
)
def test_training_is_deterministic(tmp_path, changes):
    config = tiny(**changes)
    a = train(config, cache_dir=tmp_path / "a", progress=False)
    b = train(config, cache_dir=tmp_path / "b", progress=False)
    assert same(weights(a), weights(b))
    other = train(config.replace(seed=1), cache_dir=tmp_path / "a", progress=False)
    assert not same(weights(a), weights(other))  # the comparison can fail
    assert [line["step"] for line in a.log] == [line["step"] for line in b.log]
    assert all(np.isfinite(v) for line in a.log for k, v in line.items() if k.startswith("loss"))


def test_28px_and_checkpoints(tmp_path):
    run = train(tiny(resolution=28, steps=4, checkpoints=(2,)), cache_dir=tmp_path, progress=False)
    assert run.checkpoints == (2, 4)
    early, last = run.at_step(2), run.sampler()
    x2, x4 = early(0, 5).x, last(0, 5).x
    assert x2.shape == x4.shape == (5, 1, 28, 28) and not np.array_equal(x2, x4)
    with pytest.raises(ValueError, match="no generator kept at step 3"):
        run.sampler(3)


# --------------------------------------------------------------------------- cache
def test_cache_hit_does_not_retrain(tmp_path, monkeypatch):
    config = tiny()
    first = train(config, cache_dir=tmp_path, progress=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a cached generator was trained again")

    monkeypatch.setitem(sys.modules["bbcollapse.lab.objectives"].STEPS, "dcgan", refuse)
    again = train(config, cache_dir=tmp_path, progress=False)
    assert again.path == first.path and again.summary == first.summary


def test_key_covers_the_full_configuration():
    base = tiny()
    keys = {
        base.key,
        base.replace(seed=1).key,
        base.replace(data=DataSpec.balanced(5, seed=1)).key,
        base.replace(data=DataSpec.aug(5, (1,), 3)).key,
        base.replace(pack=2).key,
        base.replace(lr=1e-3).key,
    }
    assert len(keys) == 6
    assert tiny(arch="wgan-gp").key == tiny(arch="wgan-gp", n_critic=5, lr=1e-4).key  # defaults resolved
    assert GanConfig.from_dict(base.to_dict()).key == base.key
    assert tiny().replace(arch="wgan-gp").optim["lr"] == 1e-4  # no DCGAN setting carried over


def test_config_validation():
    with pytest.raises(ValueError, match="arch"):
        tiny(arch="stylegan")
    with pytest.raises(ValueError, match="resolution"):
        tiny(resolution=32)
    with pytest.raises(ValueError, match="multiple of pack"):
        tiny(pack=3)
    with pytest.raises(ValueError, match="VAE"):
        tiny(arch="vae", pack=2)
    with pytest.raises(ValueError, match="checkpoints"):
        tiny(checkpoints=(7,))


# --------------------------------------------------------------------------- resume after SIGKILL
CHILD = """
import sys
import torch
torch.set_num_threads(1)
from bbcollapse.lab import DataSpec, GanConfig, train
config = GanConfig.from_dict(__import__("json").loads(sys.argv[1]))
train(config, cache_dir=sys.argv[2], progress=False, autosave_every=1)
"""


def test_resume_after_sigkill_reaches_the_same_weights(tmp_path):
    config = tiny(arch="sn-dcgan", steps=60, checkpoints=(30,))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    argv = [sys.executable, "-c", CHILD, json.dumps(config.to_dict()), str(tmp_path / "killed")]
    child = subprocess.Popen(argv, env=env)
    folder = tmp_path / "killed" / config.folder_name
    deadline = time.monotonic() + 300
    try:
        while (
            not list(folder.glob("resume-step*.json"))
            or max(int(p.stem[-7:]) for p in folder.glob("resume-step*.json")) < 5
        ):
            assert child.poll() is None, "the child exited before it could be killed"
            assert time.monotonic() < deadline, "the child wrote no checkpoint in 300 s"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (folder / "done.json").exists(), "the run finished before it was killed"
    resumed = train(config, cache_dir=tmp_path / "killed", progress=False)
    assert 0 < resumed.summary["resumed_from"] < config.steps
    straight = train(config, cache_dir=tmp_path / "straight", progress=False)
    assert straight.summary["resumed_from"] == 0
    assert same(weights(resumed), weights(straight))
    assert same(weights(resumed, step=30), weights(straight, step=30))
    assert [line["step"] for line in resumed.log] == [line["step"] for line in straight.log]
    assert [line["loss_d"] for line in resumed.log] == [line["loss_d"] for line in straight.log]
    assert not list(folder.glob("resume-*")), "resume checkpoints are removed once training is done"


def test_corrupt_resume_checkpoint_is_not_used(tmp_path, monkeypatch):
    config = tiny(steps=8)
    straight = train(config, cache_dir=tmp_path / "straight", progress=False)
    # Stop a run after step 5 with resume checkpoints at steps 2 and 4, then damage the newest.
    folder = tmp_path / "broken" / config.folder_name
    calls = {"n": 0}
    real = sys.modules["bbcollapse.lab.objectives"].STEPS["dcgan"]

    def stop_after_five(*args):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setitem(sys.modules["bbcollapse.lab.objectives"].STEPS, "dcgan", stop_after_five)
    with pytest.raises(KeyboardInterrupt):
        train(config, cache_dir=tmp_path / "broken", progress=False, autosave_every=2)
    monkeypatch.setitem(sys.modules["bbcollapse.lab.objectives"].STEPS, "dcgan", real)
    newest = folder / "resume-step0000004.safetensors"
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))
    resumed = train(config, cache_dir=tmp_path / "broken", progress=False)
    assert resumed.summary["resumed_from"] == 0  # the damaged checkpoint was refused, nothing older was kept
    assert same(weights(resumed), weights(straight))


# --------------------------------------------------------------------------- two processes, one configuration
#: A child that counts its trainings (calls of trainer._train) in a file, slows every step by 20 ms so that
#: two children overlap, starts training when the file "go" appears, and saves the weights it ends with.
RIVAL = """
import json, os, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from safetensors.torch import save_file
import bbcollapse.lab.objectives as objectives
import bbcollapse.lab.trainer as trainer
from bbcollapse.lab import GanConfig, train
from bbcollapse.lab.cache import read_tensors
config = GanConfig.from_dict(json.loads(sys.argv[1]))
marks = Path(sys.argv[3])
real_train, real_step = trainer._train, objectives.STEPS[config.arch]

def counted(*args):
    with open(marks / "trainings", "a") as f:
        f.write(f"{os.getpid()}\\n")
    return real_train(*args)

def slow(*args):
    time.sleep(0.02)
    return real_step(*args)

trainer._train, objectives.STEPS[config.arch] = counted, slow
(marks / f"ready-{os.getpid()}").touch()
while not (marks / "go").exists():
    time.sleep(0.005)
run = train(config, cache_dir=sys.argv[2], progress=False, autosave_every=5)
save_file(read_tensors(run.path, "G", config.steps)[0], str(marks / f"weights-{os.getpid()}.safetensors"))
"""


def start_rivals(config, cache, marks, n=2):
    """``n`` children training ``config`` in ``cache``, released together once all have imported torch."""
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-c", RIVAL, json.dumps(config.to_dict()), str(cache), str(marks)]
    kids = [subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    deadline = time.monotonic() + 120
    while len(list(marks.glob("ready-*"))) < n:
        assert all(k.poll() is None for k in kids), [k.stderr.read()[-2000:] for k in kids]
        assert time.monotonic() < deadline, "the children did not start in 120 s"
        time.sleep(0.01)
    (marks / "go").touch()
    return kids


def test_two_processes_training_one_configuration_train_it_once(tmp_path):
    """The second process waits on the folder's lock and loads what the first trained (without the lock
    both train, and each deletes the other's temporary files)."""
    config = tiny(steps=60, checkpoints=(30,))
    kids = start_rivals(config, tmp_path / "cache", tmp_path / "marks")
    errs = [k.communicate(timeout=300)[1] for k in kids]
    assert [k.returncode for k in kids] == [0, 0], [e[-3000:] for e in errs]
    trainers = (tmp_path / "marks" / "trainings").read_text().split()
    assert len(trainers) == 1, f"{len(trainers)} processes trained the same configuration"
    waiter = errs[1 - [str(k.pid) for k in kids].index(trainers[0])]
    assert f"another process (pid {trainers[0]}) is training this configuration" in waiter, waiter[-2000:]
    assert "loaded the generator another process trained" in waiter
    straight = weights(train(config, cache_dir=tmp_path / "straight", progress=False))
    for k in kids:
        assert same(load_file(str(tmp_path / "marks" / f"weights-{k.pid}.safetensors")), straight)


# --------------------------------------------------------------------------- divergence
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    config = tiny(steps=10, checkpoints=(3, 8))
    real = sys.modules["bbcollapse.lab.objectives"].STEPS["dcgan"]
    calls = {"n": 0}

    def nan_at_six(*args):
        calls["n"] += 1
        losses = real(*args)
        return {**losses, "loss_d": float("nan")} if calls["n"] == 6 else losses

    monkeypatch.setitem(sys.modules["bbcollapse.lab.objectives"].STEPS, "dcgan", nan_at_six)
    with pytest.raises(TrainingDiverged, match=r"diverged at step 6: loss_d=nan.*last good checkpoint is step 4"):
        train(config, cache_dir=tmp_path, progress=False, autosave_every=2)
    folder = tmp_path / config.folder_name
    assert sorted(p.name for p in folder.glob("*-step*.json")) == ["G-step0000003.json", "resume-step0000004.json"]
    assert max(line["step"] for line in json.loads("[" + ",".join(open(folder / "log.jsonl")) + "]")) <= 5
    assert not (folder / "done.json").exists()

    def explode(*args):
        return {"loss_d": 1e9, "loss_g": 0.0}

    monkeypatch.setitem(sys.modules["bbcollapse.lab.objectives"].STEPS, "dcgan", explode)
    with pytest.raises(TrainingDiverged, match=r"loss_d=1e\+09"):
        train(config.replace(seed=3), cache_dir=tmp_path, progress=False)


# --------------------------------------------------------------------------- samplers
def test_sampler_is_a_latent_model(tmp_path):
    run = train(tiny(steps=3), cache_dir=tmp_path, progress=False)
    s = run.sampler()
    assert isinstance(s, bb.LatentModel) and isinstance(s, bb.Sampler)
    batch = bb.sample_batch(s, 7, 9)
    assert batch.z.shape == (9, 8) and batch.z.dtype == np.float32
    assert batch.x.shape == (9, 1, 28, 28) and batch.x.dtype == np.float32  # 14 px upsampled to 28
    assert 0 <= batch.x.min() and batch.x.max() <= 1
    assert np.array_equal(batch.z, np.random.default_rng(7).standard_normal((9, 8)).astype(np.float32))
    assert np.array_equal(batch.x, s(7, 9).x)
    # Evaluation mode: an image depends on its own latent only, not on the batch it is generated in.
    np.testing.assert_allclose(s.generate(batch.z[:2]), batch.x[:2], atol=1e-6)
    assert run.config.key in bb.identity_of(s)
    with pytest.raises(ValueError, match="latents must have shape"):
        s.generate(np.zeros((2, 3), dtype=np.float32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_training_and_sampling(tmp_path):
    run = train(tiny(steps=4), cache_dir=tmp_path, device="cuda", progress=False)
    assert run.summary["device"] == "cuda"
    assert run.sampler(device="cuda")(0, 4).x.shape == (4, 1, 28, 28)


def test_train_many_in_processes_matches_train(tmp_path):
    configs = [tiny(steps=4), tiny(arch="vae", steps=4)]
    parallel = bb_lab.train_many(configs, workers=2, cache_dir=tmp_path / "p", progress=False)
    for config, run in zip(configs, parallel):
        alone = train(config, cache_dir=tmp_path / "alone", progress=False)
        assert run.config == config and same(weights(run), weights(alone))


def test_at_scale_sizes_and_checkpoints():
    c = GanConfig.at_scale("default", n_checkpoints=6, arch="sn-dcgan", pack=4)
    assert (c.width, c.steps, c.pack) == (bb_lab.SCALES["default"]["width"], bb_lab.SCALES["default"]["steps"], 4)
    assert len(c.checkpoints) == 6 and c.checkpoints[-1] == c.steps and c.kept_steps == c.checkpoints
    w = GanConfig.at_scale("default", arch="wgan-gp")
    assert w.steps == 4 * c.steps // 5
    assert GanConfig.at_scale("smoke", steps=7).steps == 7
