"""The package's one atomic writer (bbcollapse._atomic): whole files or none, never through a planted link."""

import os
import stat

import numpy as np
import pytest

import bbcollapse._atomic as atomic
from bbcollapse._atomic import FILE_MODE, atomic_path, atomic_write_bytes


def test_write_replaces_the_whole_file_with_a_plain_files_mode(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old contents, longer than the new")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_planted_links_at_temporary_names_and_at_the_target_are_not_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = iter(["planted", "fresh"])
    monkeypatch.setattr(atomic, "_temp_token", lambda: next(names))
    d = tmp_path / "d"
    d.mkdir()
    os.symlink(victim, d / ".tmp-planted-out.json")  # the first name tried is taken: a fresh one is drawn
    os.symlink(victim, d / "out.json")  # a link at the target is replaced, not written through
    atomic_write_bytes(d / "out.json", b"{}")
    assert victim.read_text() == "precious"
    assert not (d / "out.json").is_symlink() and (d / "out.json").read_bytes() == b"{}"


def test_atomic_path_serves_writers_that_want_a_name(tmp_path):
    path = tmp_path / "centre.npy"
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.arange(3.0), allow_pickle=False)  # np.save keeps a name that ends in .npy
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), np.arange(3.0))
    with pytest.raises(RuntimeError):
        with atomic_path(path, suffix=".npy") as tmp:
            np.save(tmp, np.zeros(2), allow_pickle=False)
            raise RuntimeError("the writer failed")
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), np.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["centre.npy"]
