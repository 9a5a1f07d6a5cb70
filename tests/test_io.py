"""biomamba.io: atomic, durable writes (file + folder fsynced), whole-folder publication, the JSONL writer."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from biomamba import io


@pytest.fixture
def fsyncs(monkeypatch):
    """Every os.fsync, recorded as the path of its descriptor, in order."""
    calls, real = [], os.fsync

    def fsync(fd):
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_atomic_write_syncs_file_then_folder_and_leaves_no_temp(tmp_path, fsyncs):
    target = tmp_path / "a.json"
    io.atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert target.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert fsyncs[-1] == str(tmp_path)
    assert fsyncs[-2].startswith(str(tmp_path / ".a.json.tmp."))
    assert os.listdir(tmp_path) == ["a.json"]


def test_atomic_open_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with io.atomic_open(target, "w", encoding="utf-8") as f:
            f.write("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.txt"]


def test_explicit_temp_name(tmp_path):
    target = tmp_path / "m.model"
    tmp = io.tmp_path(target, hidden=False)
    assert tmp.name == f"m.model.tmp.{os.getpid()}"
    assert io.tmp_path(target).name == f".m.model.tmp.{os.getpid()}"
    io.atomic_write_bytes(target, b"abc", tmp=tmp)
    assert target.read_bytes() == b"abc" and not tmp.exists()


def test_atomic_writer_commit_counts_and_hashes(tmp_path, fsyncs):
    path = tmp_path / "sub" / "part.jsonl"
    with io.AtomicWriter(path, tmp=io.tmp_path(path, hidden=False)) as w:
        w.write_line('{"id": 1}\n')
        w.write_line(b'{"id": 2}\n')
        assert not path.exists() and w.tmp.is_file()
    data = b'{"id": 1}\n{"id": 2}\n'
    assert path.read_bytes() == data
    assert (w.lines, w.bytes, w.sha256) == (2, len(data), hashlib.sha256(data).hexdigest())
    assert os.listdir(path.parent) == ["part.jsonl"]
    assert fsyncs[-1] == str(path.parent)  # the rename is made durable


def test_atomic_writer_abort_on_error(tmp_path):
    path = tmp_path / "out.jsonl"
    with pytest.raises(ValueError):
        with io.AtomicWriter(path) as w:
            w.write_line("x\n")
            raise ValueError
    assert os.listdir(tmp_path) == []


def test_durable_replace_syncs_the_file_and_both_folders(tmp_path, fsyncs):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    src, dst = tmp_path / "a" / "f.part", tmp_path / "b" / "f"
    src.write_bytes(b"data")
    io.durable_replace(src, dst)
    assert dst.read_bytes() == b"data" and not src.exists()
    assert fsyncs == [str(src), str(tmp_path / "b"), str(tmp_path / "a")]


def test_replace_dir_publishes_synced_contents_over_an_existing_folder(tmp_path, fsyncs):
    out, tmp = tmp_path / "out", tmp_path / ".out.tmp"
    out.mkdir()
    (out / "old.txt").write_text("old")
    tmp.mkdir()
    (tmp / "new.txt").write_text("new")
    io.replace_dir(tmp, out)
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert os.listdir(out) == ["new.txt"]
    assert str(tmp / "new.txt") in fsyncs  # synced before the rename
    assert fsyncs[-1] == str(tmp_path)


def test_sha256_and_versions(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 3_000_000)
    assert io.sha256_file(p, chunk=1 << 16) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    v = io.package_versions(("numpy", "no-such-package-xyz"))
    assert v["numpy"] and v["no-such-package-xyz"] is None and "python" in v
    json.dumps(v)  # recorded as JSON next to every output
