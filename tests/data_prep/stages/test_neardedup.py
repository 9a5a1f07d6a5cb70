"""Staged near-dedup (data_prep.stages.clean.neardedup*) against the single-process method of ``clean``.

* same kept ids and byte-identical output as ``clean`` with near-dedup on, on the embedded
  sample and on a corpus with planted near-duplicates;
* the same clusters as an independent reference (datasketch ``MinHashLSH`` over every
  document, union-find in this file);
* 3 array tasks (run in any order) == one process, byte for byte;
* a stage killed mid-way (SIGKILL) and rerun gives byte-identical outputs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasketch import MinHashLSH

from data_prep.stages.clean.clean import clean
from data_prep.cli import main
from data_prep.config import CleanConfig
from data_prep.stages.clean.dedup import NearDeduper
from data_prep.stages.clean.neardedup import Plan
from data_prep.stages.clean.neardedup_cluster import output_parts, run_all, run_stage
from data_prep.synthetic.planted_dups import planted_corpus

from ..conftest import assert_balanced, read_jsonl


def _outputs(work: Path) -> dict[str, bytes]:
    """Every data file and receipt of a work folder (not the timed stats.json reports)."""
    return {str(p.relative_to(work)): p.read_bytes() for p in sorted(work.rglob("*"))
            if p.is_file() and p.name != "stats.json"}


def reference_clusters(path: Path, cfg: CleanConfig) -> list[list[str]]:
    """Components of "shares an LSH bucket" from datasketch itself: every document inserted, each queried."""
    d = NearDeduper(cfg.near_dup_threshold, cfg.num_perm, cfg.shingle_words)
    lsh = MinHashLSH(threshold=cfg.near_dup_threshold, num_perm=cfg.num_perm, weights=NearDeduper.LSH_WEIGHTS)
    recs = read_jsonl(path)
    mh = {r["id"]: d.minhash(r["text"]) for r in recs}
    for k, m in mh.items():
        lsh.insert(k, m)
    parent = {k: k for k in mh}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k, m in mh.items():
        for other in lsh.query(m):
            parent[find(other)] = find(k)
    comps: dict[str, list[str]] = {}
    for r in recs:
        comps.setdefault(find(r["id"]), []).append(r["id"])
    return sorted(c for c in comps.values() if len(c) > 1)


def check_against_single_process(records: Path, tmp_path: Path, part_mb: float) -> tuple[Plan, list[dict]]:
    cfg = CleanConfig()
    single, exact = tmp_path / "single.jsonl", tmp_path / "exact.jsonl"
    s_single = clean([records], single, cfg)
    clean([records], exact, CleanConfig(near_dedup=False))
    plan = Plan.make([exact], tmp_path / "work", cfg, part_mb)
    assert len(plan.parts) >= 3, "the test needs several parts"
    stats = run_all(plan)
    # same kept records, byte for byte, and the same count of near duplicates
    assert b"".join(p.read_bytes() for p in output_parts(plan)) == single.read_bytes()
    assert stats.dropped["near_duplicate"] == s_single.dropped["near_duplicate"] > 0
    d = assert_balanced(plan.work / "clusters" / "stats.json")
    assert d["seen"] == len(read_jsonl(exact)) and d["dropped"] == {"near_duplicate": stats.dropped["near_duplicate"]}
    clusters = read_jsonl(plan.work / "clusters" / "clusters.jsonl")
    got = sorted(sorted(c["kept"] + [r[0] for r in c["removed"]], key=lambda i: int(i.split(":")[1]))
                 for c in clusters)
    assert got == reference_clusters(exact, cfg)
    kept = {r["id"] for r in read_jsonl(single)}
    for c in clusters:  # every removed document names a kept one of its own cluster, earlier in the input
        assert c["cluster"] in kept and set(c["kept"]) <= kept
        for removed, dup_of in c["removed"]:
            assert removed not in kept and dup_of in c["kept"]
    return plan, clusters


def test_staged_equals_single_process_on_the_sample(small_corpus, tmp_path):
    check_against_single_process(small_corpus, tmp_path, part_mb=0.05)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list[dict]]:
    path = tmp_path_factory.mktemp("planted") / "planted.jsonl"
    return path, planted_corpus(path, 1500, dup_fraction=0.25, seed=3)


def test_staged_equals_single_process_on_planted_duplicates(planted, tmp_path):
    records, pairs = planted
    plan, clusters = check_against_single_process(records, tmp_path, part_mb=0.1)
    cluster_of = {i: c["cluster"] for c in clusters for i in c["kept"] + [r[0] for r in c["removed"]]}
    found = [p for p in pairs if p["jaccard"] >= 0.9 and cluster_of.get(p["copy"], 1) == cluster_of.get(p["source"])]
    high = [p for p in pairs if p["jaccard"] >= 0.9]
    assert len(high) > 50 and len(found) >= 0.9 * len(high), (len(found), len(high))
    source = {p["copy"]: p["source"] for p in pairs}

    def root(i):
        while i in source:
            i = source[i]
        return i

    for c in clusters:  # precision: a cluster never mixes documents of different planted families
        assert len({root(i) for i in c["kept"] + [r[0] for r in c["removed"]]}) == 1, c


def test_three_array_tasks_equal_one_process(planted, tmp_path):
    records, _ = planted
    exact = tmp_path / "exact.jsonl"
    clean([records], exact, CleanConfig(near_dedup=False))
    one = Plan.make([exact], tmp_path / "one", CleanConfig(), 0.1)
    run_all(one)
    arr = Plan.make([exact], tmp_path / "arr", CleanConfig(), 0.1)
    for stage in ("signatures", "buckets", "clusters", "filter"):
        for task in (2, 0, 1):  # any order within a stage
            run_stage(arr, stage, task, 3)
    assert _outputs(arr.work) == _outputs(one.work)


def _kill_midway(cmd: list[str], watch: Path, pattern: str, total: int) -> None:
    """Start ``cmd``; SIGKILL it once the first of ``total`` receipts appears; assert it was mid-way."""
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(Path(__file__).resolve().parents[3]))}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(watch.glob(pattern)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(watch.glob(pattern)))
    assert 1 <= done < total, f"not killed mid-way ({done} of {total} receipts); make the stage slower"


def test_killed_stage_rerun_is_byte_identical(planted, tmp_path):
    records, _ = planted
    exact = tmp_path / "exact.jsonl"
    clean([records], exact, CleanConfig(near_dedup=False))
    ref = Plan.make([exact], tmp_path / "ref", CleanConfig(), 0.05)
    run_all(ref)
    work = tmp_path / "killed"
    args = ["neardedup", "{stage}", str(exact), "--work", str(work), "--part-mb", "0.05"]
    cli = [sys.executable, "-m", "data_prep"]
    n = len(ref.parts)
    _kill_midway(cli + [a.format(stage="signatures") for a in args], work / "signatures", "part-*.json", n)
    assert main([a.format(stage="signatures") for a in args]) == 0
    for stage in ("buckets", "clusters"):
        assert main([a.format(stage=stage) for a in args]) == 0
    _kill_midway(cli + [a.format(stage="filter") for a in args], work / "out", "part-*.json", n)
    assert main([a.format(stage="filter") for a in args]) == 0
    assert _outputs(work) == _outputs(ref.work)


def test_out_of_order_stage_is_a_clear_usage_error(planted, tmp_path, capsys):
    records, _ = planted
    code = main(["neardedup", "clusters", str(records), "--work", str(tmp_path / "w"), "--part-mb", "0.1"])
    assert code == 2
    assert "run `neardedup signatures` (all tasks) first" in capsys.readouterr().err


def test_split_reads_the_filter_output_folder(planted, tmp_path):
    records, _ = planted
    exact = tmp_path / "exact.jsonl"
    clean([records], exact, CleanConfig(near_dedup=False))
    plan = Plan.make([exact], tmp_path / "work", CleanConfig(), 0.1)
    run_all(plan)
    assert main(["split", str(plan.work / "out"), "--out", str(tmp_path / "split"), "--fractions", "train=1.0"]) == 0
    d = json.loads((tmp_path / "split" / "stats.json").read_text())
    assert d["seen"] == sum(len(read_jsonl(p)) for p in output_parts(plan))


def test_bad_lines_and_empty_input_are_accounted(planted, tmp_path):
    records, _ = planted
    lines = records.read_bytes().splitlines(keepends=True)[:300]
    messy = tmp_path / "messy.jsonl"
    messy.write_bytes(b"".join(lines[:100]) + b"{not json\n\n" + b"".join(lines[100:]).rstrip(b"\n"))  # no final newline
    plan = Plan.make([messy], tmp_path / "w", CleanConfig(), 0.1)
    assert main(["neardedup", "all", str(messy), "--work", str(plan.work), "--part-mb", "0.1"]) == 0
    d = assert_balanced(plan.work / "stats.json")
    assert d["errors"] == {"bad_json": 1} and d["seen"] == 301
    assert assert_balanced(plan.work / "clusters" / "stats.json")["errors"] == {"bad_json": 1}
    single = clean([messy], tmp_path / "single.jsonl", CleanConfig(exact_dedup=False))
    assert b"".join(p.read_bytes() for p in output_parts(plan)) == (tmp_path / "single.jsonl").read_bytes()
    assert (single.kept, single.errors) == (d["kept"], d["errors"])
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert main(["neardedup", "all", str(empty), "--work", str(tmp_path / "e")]) == 0
    assert assert_balanced(tmp_path / "e" / "stats.json")["seen"] == 0
