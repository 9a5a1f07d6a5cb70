"""``shard`` / ``merge-manifest``: format, idempotent reruns, kill-and-rerun, array split + merge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from biomamba.data.format import ShardWriter, decode_tokens, read_manifest
from biomamba.io import sha256_file
from biomamba.tokenizer import load_tokenizer
from data_prep.cli import main
from data_prep.stages.shard.merge_manifest import MergeError, merge_split
from data_prep.stages.split.split import read_parts

from ..conftest import assert_balanced, read_jsonl

REPO = Path(__file__).resolve().parents[3]


def shard_cli(splits: Path, tok: Path, out: Path, *extra: str) -> int:
    return main(["shard", "--input", str(splits), "--tokenizer", str(tok), "--out", str(out), "--batch-docs", "16", *extra])


def snapshot(out: Path) -> dict[str, bytes]:
    """Every shard and manifest by relative path (receipts/stats hold timings and are left out)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.suffix == ".tar" or p.name == "manifest.json"}


@pytest.fixture(scope="module")
def single(sample_splits, spm_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards_single")
    assert shard_cli(sample_splits, spm_model, out, "--workers", "1") == 0
    return out


def test_shards_follow_the_format(single, sample_splits, spm_model):
    tok = load_tokenizer(spm_model)
    for split in ("train", "val"):
        m = read_manifest(single / split)
        parts = read_parts(sample_splits / split)
        assert m["totals"]["shards"] == len(parts["parts"]) and m["totals"]["documents"] == parts["documents"]
        assert m["dtype"] == "uint16" and m["eos_id"] == tok.eos_id and m["vocab_size"] == tok.vocab_size
        assert m["tokenizer"] == tok.describe() and m["versions"]["sentencepiece"]
        assert m["shard_pattern"] == ("shard-000000.tar" if len(parts["parts"]) == 1
                                      else f"shard-{{000000..{len(parts['parts']) - 1:06d}}}.tar")
        for entry, part in zip(m["shards"], parts["parts"], strict=True):
            shard = single / split / entry["name"]
            assert sha256_file(shard) == entry["sha256"] and shard.stat().st_size == entry["size"]
            recs = read_jsonl(sample_splits / split / part["name"])
            with tarfile.open(shard) as t:
                names = t.getnames()
                assert names[:2] == [f"{recs[0]['id']}.json", f"{recs[0]['id']}.tokens.npy"]
                tokens = 0
                for r in recs:
                    arr = decode_tokens(t.extractfile(f"{r['id']}.tokens.npy").read())
                    meta = json.loads(t.extractfile(f"{r['id']}.json").read())
                    assert arr.dtype == np.uint16 and arr[-1] == tok.eos_id and tok.eos_id not in arr[:-1]
                    assert tok.decode(arr[:-1].tolist()) == r["text"]
                    assert meta == {"id": r["id"], "bytes": len(r["text"].encode()), "source": r["source"], "year": r["year"]}
                    tokens += len(arr)
            assert entry["tokens"] == tokens and entry["documents"] == len(recs)
        assert_balanced(single / split / "stats.json")


def test_rerun_skips_and_is_byte_identical(single, sample_splits, spm_model, tmp_path):
    before = snapshot(single)
    mtimes = {p: p.stat().st_mtime_ns for p in single.rglob("*.tar")}
    assert shard_cli(sample_splits, spm_model, single) == 0
    assert snapshot(single) == before
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # nothing rewritten
    fresh = tmp_path / "fresh"
    assert shard_cli(sample_splits, spm_model, fresh, "--workers", "3", "--threads", "2") == 0
    assert snapshot(fresh) == before  # an independent run, in 3 processes, reproduces every byte


def test_damaged_shard_is_rewritten(single, sample_splits, spm_model, copy_tree):
    out = copy_tree(single, "damaged")
    before = snapshot(out)
    victim = out / "train" / "shard-000001.tar"
    victim.write_bytes(victim.read_bytes()[:1000])
    (out / "val" / "receipts" / "shard-000000.json").unlink()
    assert shard_cli(sample_splits, spm_model, out) == 0
    assert snapshot(out) == before


def test_interrupted_shard_leaves_no_final_file(single, sample_splits, spm_model, copy_tree, monkeypatch):
    out = copy_tree(single, "interrupted")
    before = snapshot(out)
    for p in out.rglob("*"):
        if p.is_file() and p.parent.name in ("train", "receipts") and "train" in str(p):
            p.unlink()
    real_add, docs = ShardWriter.add_batch, {"n": 0}

    def crashing_add(self, doc_ids, *a, **k):
        docs["n"] += len(doc_ids)
        if docs["n"] >= 150:  # the batch with the 150th document, in the middle of a later shard
            raise KeyboardInterrupt("simulated kill")
        return real_add(self, doc_ids, *a, **k)

    monkeypatch.setattr(ShardWriter, "add_batch", crashing_add)
    with pytest.raises(KeyboardInterrupt):
        shard_cli(sample_splits, spm_model, out, "--workers", "1")
    monkeypatch.setattr(ShardWriter, "add_batch", real_add)
    written = sorted(p.name for p in (out / "train").glob("shard-*.tar"))
    receipts = sorted(p.name for p in (out / "train" / "receipts").glob("*.json"))
    assert written and [w.replace(".tar", ".json") for w in written] == receipts  # only complete shards
    assert not list((out / "train").glob("*.tmp.*"))
    with pytest.raises(MergeError, match="not finished"):
        merge_split(out / "train")
    assert shard_cli(sample_splits, spm_model, out) == 0
    assert snapshot(out) == before


@pytest.mark.slow
def test_sigkill_then_rerun_reproduces_the_shards(sample_splits, spm_model, single, tmp_path):
    """A real SIGKILL while shards are being written; the rerun completes the set byte-identically."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "data_prep", "shard", "--input", str(sample_splits), "--tokenizer", str(spm_model),
           "--out", str(out), "--batch-docs", "1", "--threads", "2", "--workers", "2"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if list(out.glob("*/shard-*.tar.tmp.*")) and list(out.glob("*/receipts/*.json")):
            break  # one shard done, another half-written
        time.sleep(0.002)
    killed = proc.poll() is None
    workers = psutil.Process(proc.pid).children() if killed else []
    assert workers or not killed, "expected forked shard workers"
    proc.send_signal(signal.SIGKILL) if killed else None
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "worker processes outlived the killed job"
    for shard in out.glob("*/shard-*.tar"):  # whatever is under a final name is complete
        receipt = shard.parent / "receipts" / shard.name.replace(".tar", ".json")
        if receipt.exists():
            assert json.loads(receipt.read_text())["shard"]["sha256"] == sha256_file(shard)
    assert not (out / "train" / "manifest.json").exists() or not killed
    assert main(["shard", "--input", str(sample_splits), "--tokenizer", str(spm_model), "--out", str(out)]) == 0
    assert not list(out.glob("*/*.tmp.*"))
    assert snapshot(out) == snapshot(single)
    assert killed, "the shard job finished before it could be killed; the kill path was not exercised"


def test_array_tasks_then_merge_equal_single_process(single, sample_splits, spm_model, tmp_path, monkeypatch):
    out = tmp_path / "array"
    for task in (2, 0, 1):  # any order
        assert shard_cli(sample_splits, spm_model, out, "--task-index", str(task), "--num-tasks", "3") == 0
        assert not (out / "train" / "manifest.json").exists()
    assert main(["merge-manifest", str(out), "--verify"]) == 0
    assert snapshot(out) == snapshot(single)
    for split in ("train", "val"):
        a, b = assert_balanced(out / split / "stats.json"), assert_balanced(single / split / "stats.json")
        assert (a["seen"], a["kept"], a["info"]["tokens"]) == (b["seen"], b["kept"], b["info"]["tokens"])


def test_merge_reports_missing_shards(sample_splits, spm_model, tmp_path):
    out = tmp_path / "partial"
    assert shard_cli(sample_splits, spm_model, out, "--task-index", "0", "--num-tasks", "2") == 0
    assert main(["merge-manifest", str(out)]) == 1
    with pytest.raises(MergeError, match="not finished yet"):
        merge_split(out / "train")


def test_missing_tokenizer_is_a_usage_error(sample_splits, tmp_path):
    assert shard_cli(sample_splits, tmp_path / "none.model", tmp_path / "o") == 2
