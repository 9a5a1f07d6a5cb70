"""``python -m data_prep run`` on the embedded sample: the quickstart's data step, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from biomamba.data.format import read_manifest
from data_prep.synthetic.sample_corpus import (
    BASELINE_NAME,
    OUT_DIR,
    UPDATE_NAME,
    baseline_xml,
    gzip_bytes,
    sample_plan,
    update_xml,
)

from .conftest import assert_balanced, read_jsonl

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "data" / "sample.yaml"


def run_prep(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "data_prep", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample_run")
    t0 = time.time()
    proc = run_prep("run", "--config", str(CONFIG), f"out_dir={out}")
    elapsed = time.time() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, elapsed, proc


def test_sample_files_are_reproducible_and_small():
    assert (OUT_DIR / BASELINE_NAME).read_bytes() == gzip_bytes(baseline_xml())
    assert (OUT_DIR / UPDATE_NAME).read_bytes() == gzip_bytes(update_xml())
    assert (OUT_DIR / BASELINE_NAME).stat().st_size + (OUT_DIR / UPDATE_NAME).stat().st_size < 300_000


def test_chain_outputs_and_accounting(sample_run):
    out, elapsed, proc = sample_run
    assert elapsed < 60, f"the sample chain took {elapsed:.0f} s"
    stats_files = sorted(out.rglob("*stats*.json"))
    assert len(stats_files) >= 8
    for f in stats_files:
        assert_balanced(f)
    ext = json.loads((out / "extract" / "pubmed.stats.json").read_text())
    plan = sample_plan()
    assert ext["dropped"]["book_article"] == 3 and ext["dropped"]["deleted"] == len(plan["deleted"])
    recs = {r["pmid"]: r for r in read_jsonl(out / "extract" / "pubmed.jsonl")}
    assert not set(plan["deleted"]) & set(recs) and not set(plan["revised_to_retracted"]) & set(recs)
    assert all(recs[p]["year"] == 2021 for p in plan["revised"] if p in recs)  # the update's versions won
    assert recs[plan["versioned"]]["version"] == 2
    assert set(plan["new"]) <= set(recs)
    changed = set(plan["revised"]) | {plan["versioned"]}
    dated = [p for p in plan["medline_date_years"] if p in recs and p not in changed]
    assert dated and all(recs[p]["year"] == plan["medline_date_years"][p] for p in dated)
    math = [p for p in plan["mathml"] if p in recs and p not in changed]
    assert math and all("V.O2" in recs[p]["abstract"] for p in math)
    total = 0
    for split in ("train", "val", "test"):
        m = read_manifest(out / "shards" / split)
        assert m["tokenizer"]["kind"] == "sentencepiece" and m["vocab_size"] == 2000
        total += m["totals"]["documents"]
    assert read_manifest(out / "shards" / "train")["totals"]["shards"] > 1
    assert total == json.loads((out / "split" / "stats.json").read_text())["kept"]
    assert (out / "tokenizer" / "hf" / "tokenizer.json").is_file()
    assert (out / "config.yaml").is_file() and "sentencepiece" in json.loads((out / "versions.json").read_text())
    assert "data_prep run" in proc.stderr  # the summary table


def test_rerun_is_up_to_date_and_identical(sample_run):
    out, _, _ = sample_run
    before = {p: p.read_bytes() for p in out.rglob("*") if p.suffix in (".tar", ".jsonl") or p.name == "manifest.json"}
    proc = run_prep("run", "--config", str(CONFIG), f"out_dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("up to date") >= 4
    after = {p: p.read_bytes() for p in out.rglob("*") if p.suffix in (".tar", ".jsonl") or p.name == "manifest.json"}
    assert after == before


def test_missing_input_and_bad_config(tmp_path):
    proc = run_prep("run", "--config", str(CONFIG), f"out_dir={tmp_path / 'o'}",
                    f"pubmed.inputs=[{OUT_DIR / BASELINE_NAME},{tmp_path / 'missing.xml.gz'}]")
    assert proc.returncode == 1
    assert "missing.xml.gz" in proc.stderr
    assert read_manifest(tmp_path / "o" / "shards" / "train")["totals"]["documents"] > 0  # the rest was prepared
    bad = run_prep("run", "--config", str(CONFIG), "split.fractions={train: 0.5}")
    assert bad.returncode == 2 and "split.fractions" in bad.stderr
    dry = run_prep("run", "--config", str(CONFIG), "--dry-run", "tokenizer.vocab_size=3000")
    assert dry.returncode == 0 and "vocab_size: 3000" in dry.stdout
