"""EmbeddingStore: atomic shards, resume after SIGKILL, corruption detection, config refusal."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from bbcollapse.blackbox import shard_seed
from bbcollapse.store import EmbeddingStore, StoreConfigError, embed_shard, shard_sizes
from bbcollapse.subjects.synthetic import PlantedSphere

PS = PlantedSphere(dim=16, masses=(0.1,))
SEED = 7


class CountingDescriptor:
    """Identity descriptor that counts how many samples it embedded."""

    identity = "counting-identity"

    def __init__(self):
        self.calls = 0
        self.samples = 0

    def __call__(self, x):
        self.calls += 1
        self.samples += len(x)
        return np.asarray(x)


def open_store(path, **kw):
    desc = kw.pop("descriptor", None) or CountingDescriptor()
    opts = dict(sampler=PS, descriptor=desc, seed=SEED, shard_size=25, progress=False)
    opts.update(kw)
    return EmbeddingStore(path, **opts), desc


def reference(n, shard_size=25):
    """Embeddings computed directly from the protocol: shard j = sampler(shard_seed(seed, 1, j), n_j)."""
    parts = [PS(shard_seed(SEED, 1, j), n_j) for j, n_j in enumerate(shard_sizes(n, shard_size))]
    return np.concatenate([p.z for p in parts]), np.concatenate([p.x for p in parts])


def test_shards_follow_the_seed_protocol(tmp_path):
    st, desc = open_store(tmp_path / "s")
    with st:
        st.fill(110)
        z, e = st.latents(110), st.embeddings(110)
    zr, er = reference(110)
    np.testing.assert_array_equal(z, zr)
    np.testing.assert_array_equal(e, er)
    assert desc.samples == 110 and desc.calls == 5  # 4 x 25 + 10
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert sorted(manifest["shards"], key=int) == ["0", "1", "2", "3", "4"]
    assert manifest["shards"]["4"]["n"] == 10 and manifest["config"]["seed"] == SEED
    assert len(manifest["shards"]["0"]["e"]["sha256"]) == 64
    # shard 2 alone is reproducible
    z2, e2 = embed_shard(PS, lambda x: x, seed=SEED, stream=(1,), j=2, n=25)
    np.testing.assert_array_equal(e2, er[50:75])
    # plain .npy, loadable without pickles
    arr = np.load(tmp_path / "s" / "shard-000002.e.npy", allow_pickle=False)
    np.testing.assert_array_equal(arr, e2)


def test_reopening_does_not_recompute_and_extending_reuses_full_shards(tmp_path):
    with open_store(tmp_path / "s")[0] as st:
        st.fill(60)  # shards 25, 25, 10
    st, desc = open_store(tmp_path / "s")
    with st:
        st.fill(60)
        assert desc.samples == 0
        st.fill(100)  # shard 2 grows to 25, shard 3 is new
        assert desc.samples == 50
        np.testing.assert_array_equal(st.embeddings(100), reference(100)[1])


CHILD = """
import sys, time, numpy as np
from bbcollapse.store import EmbeddingStore
from bbcollapse.subjects.synthetic import PlantedSphere

def slow_identity(x):
    time.sleep(0.15)
    return np.asarray(x)
slow_identity.identity = "counting-identity"   # same identity as the parent's descriptor

EmbeddingStore(sys.argv[1], sampler=PlantedSphere(dim=16, masses=(0.1,)), descriptor=slow_identity,
               seed=7, shard_size=25, progress=False).fill(int(sys.argv[2]))
"""


def _kill_when(path, proc, min_shards, deadline=30.0):
    """SIGKILL the child once the manifest records at least ``min_shards`` shards."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        try:
            done = len(json.loads((path / "manifest.json").read_text())["shards"])
        except (OSError, ValueError):
            done = 0
        if done >= min_shards:
            break
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return done


def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path):
    n = 500  # 20 shards of 25, 0.15 s each in the child
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    path = tmp_path / "killed"
    killed_at = []
    for min_shards in (3, 7):  # two kills at different points of the run
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(n)], stderr=subprocess.PIPE)
        killed_at.append(_kill_when(path, proc, min_shards))
    assert killed_at[-1] < 20, "the child finished before it was killed; the test proves nothing"

    st, desc = open_store(path)
    with st:
        done_before = st.n_done(n)
        assert 25 * 7 <= done_before < n
        st.fill(n)
        assert desc.samples == n - done_before  # finished shards were not recomputed
        z, e = st.latents(n), st.embeddings(n)
    assert not list(path.glob(".tmp-*"))

    with open_store(tmp_path / "clean")[0] as clean:
        clean.fill(n)
        zc, ec = clean.latents(n), clean.embeddings(n)
    assert z.tobytes() == zc.tobytes() and e.tobytes() == ec.tobytes()
    for j in range(20):
        for kind in ("z", "e"):
            name = f"shard-{j:06d}.{kind}.npy"
            assert (path / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()


def test_crash_between_temp_write_and_rename(tmp_path, monkeypatch):
    st, _ = open_store(tmp_path / "s")
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        calls["n"] += 1
        if str(dst).endswith("shard-000002.e.npy"):
            raise KeyboardInterrupt("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        st.fill(100)
    monkeypatch.setattr(os, "replace", real_replace)
    st.close()
    assert list((tmp_path / "s").glob(".tmp-*"))  # the crash left a temp file behind
    st, desc = open_store(tmp_path / "s")
    with st:
        assert not list((tmp_path / "s").glob(".tmp-*"))
        assert st.n_done(100) == 50
        np.testing.assert_array_equal(st.embeddings(100), reference(100)[1])
        assert desc.samples == 50


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_corrupt_or_truncated_shard_is_redone(tmp_path, damage, caplog):
    with open_store(tmp_path / "s")[0] as st:
        st.fill(75)
    target = tmp_path / "s" / "shard-000001.e.npy"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[-3] ^= 0x01  # one bit of one float: still a valid .npy file
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[: len(data) // 2]))
    else:
        target.unlink()
    st, desc = open_store(tmp_path / "s")
    with st, caplog.at_level(logging.WARNING, logger="bbcollapse.store"):
        e = st.embeddings(75)
        assert desc.samples == 25  # exactly the damaged shard was recomputed
    assert "shard 1 is missing, truncated or corrupt" in caplog.text
    np.testing.assert_array_equal(e, reference(75)[1])
    with open_store(tmp_path / "clean")[0] as clean:
        clean.fill(75)
    assert target.read_bytes() == (tmp_path / "clean" / "shard-000001.e.npy").read_bytes()


def test_other_config_is_refused(tmp_path):
    with open_store(tmp_path / "s")[0] as st:
        st.fill(30)
    with pytest.raises(StoreConfigError, match="seed: stored 7, requested 8.*fresh store directory"):
        open_store(tmp_path / "s", seed=8)
    with pytest.raises(StoreConfigError, match="shard_size: stored 25, requested 50"):
        open_store(tmp_path / "s", shard_size=50)
    with pytest.raises(StoreConfigError, match="sampler: stored 'PlantedSphere"):
        open_store(tmp_path / "s", sampler=PlantedSphere(dim=16, masses=(0.2,)))
    with pytest.raises(StoreConfigError, match="stream"):
        open_store(tmp_path / "s", stream=(0,))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(StoreConfigError, match="not a bbcollapse store manifest"):
        open_store(tmp_path / "junk")


def test_one_writer_at_a_time(tmp_path):
    st, _ = open_store(tmp_path / "s")
    with pytest.raises(RuntimeError, match="in use by another process"):
        open_store(tmp_path / "s")
    st.close()
    open_store(tmp_path / "s")[0].close()


def test_progress_bar_only_when_asked(tmp_path, capsys):
    with open_store(tmp_path / "a", progress=None)[0] as st:  # stderr is not a terminal under pytest
        st.fill(50)
    assert capsys.readouterr().err == ""
    with open_store(tmp_path / "b", progress=True)[0] as st:
        st.fill(50)
        assert st.throughput is not None and st.throughput > 0
    assert "sample/s" in capsys.readouterr().err


def test_bad_arguments():
    with pytest.raises(ValueError, match="shard_size must be >= 1"):
        shard_sizes(10, 0)
    with pytest.raises(ValueError, match=">= 0"):
        shard_sizes(-1, 5)
    assert shard_sizes(0, 5) == [] and shard_sizes(11, 5) == [5, 5, 1]


def test_the_probe_refuses_a_model_changed_behind_its_identity(tmp_path):
    """A model whose identity stays while its answers change (code edited outside argv) is refused on reuse."""
    sphere = PlantedSphere(dim=16, masses=(0.1,))
    with open_store(tmp_path / "s", sampler=sphere, probe=True)[0] as st:
        st.fill(30)
    probe = json.loads((tmp_path / "s" / "probe.json").read_text())
    (record,) = probe["probes"].values()
    assert record["sampler"] == repr(sphere) and np.shape(record["embeddings"]) == (4, 16)
    open_store(tmp_path / "s", sampler=sphere, probe=True)[0].close()  # the same model: reused

    class Edited(PlantedSphere):  # another model under the same identity string
        def __call__(self, seed, n):
            z, x = super().__call__(seed, n)
            return z, -x

        def __repr__(self):
            return repr(sphere)

    edited = Edited(dim=16, masses=(0.1,))
    with pytest.raises(StoreConfigError, match="fixed probe batch differently"):
        open_store(tmp_path / "s", sampler=edited, probe=True)
    open_store(tmp_path / "s", sampler=edited)[0].close()  # without the probe: the identity alone decides


def test_operations_doc_states_the_policies_the_code_applies():
    from pathlib import Path

    from bbcollapse.blackbox.adapters.command import MAX_BYTES, STDERR_KEEP
    from bbcollapse.blackbox.redact import SECRET_PARTS, SECRET_WORDS
    from bbcollapse.store import PROBE_N, PROBE_TOL

    doc = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    for name in (*SECRET_PARTS, *SECRET_WORDS):
        assert f"`{name}`" in doc, name
    assert MAX_BYTES == 256 * 2**20 and "256 MiB" in doc
    assert STDERR_KEEP == 64 * 1024 and "64 KiB" in doc
    assert f"{PROBE_N} latents" in doc and PROBE_TOL == 1e-4 and "more than 1e-4" in doc
