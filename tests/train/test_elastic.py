"""Elastic resume through launcher/train.py: the global sample order does not depend on the
data-parallel size, and a resume under another DP size (or gradient accumulation) continues at
the exact global position — the same losses as an uninterrupted run with the same global batch,
and, counted from the loader's document log, no document fed twice and none skipped.

Each resume starts from a copy of an uninterrupted run's middle checkpoint (written with the
same ``max_steps``, so the LR schedule is the same), into a fresh run directory: the resumed
run's metrics and document log then hold only what it executed itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .launch import REPO, TINY, losses, torchrun

pytestmark = pytest.mark.slow

CONFIG = REPO / "configs" / "pretrain" / "tiny_sample.yaml"
STEPS, CUT = 8, 4
TOL = 1e-6  # relative, fp32: the layouts differ only in the order of floating-point sums


def real_overrides(data, run_dir, nproc, **extra):
    """Global batch 8 windows of 64 tokens: 2 ranks x 4 or 1 rank x 8."""
    base = {
        "run_dir": run_dir, "tokenizer": data / "tokenizer" / "tokenizer.model",
        "data.datasets.0.path": data / "shards" / "train", "data.val_path": data / "shards" / "val",
        "max_steps": STEPS, "log_every": 1, "eval.every_steps": 0, "eval.at_end": "false",
        "checkpoint.every_steps": CUT, "checkpoint.keep_last": 5, "wandb.enabled": "false",
        "model.n_layer": 2, "model.d_model": 64, "data.seq_len": 64, "data.micro_batch_size": 8 // nproc,
        "data.num_workers": 1, "data.log_documents": "true", "schedule.warmup_steps": 2,
        "parallel.precision": "fp32", "parallel.zero_stage": 1,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def documents(run_dir: Path) -> dict[int, list]:
    """Global window index -> its documents' spans, from every rank's log; a window twice fails."""
    out: dict[int, list] = {}
    for log in sorted((run_dir / "documents").glob("rank*.jsonl")):
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            assert rec["window"] not in out, f"{run_dir.name}: window {rec['window']} fed twice"
            out[rec["window"]] = rec["docs"]
    return out


def assert_each_token_once(windows: dict[int, list]) -> None:
    """No document token is a target twice (the runs stay inside one epoch of the sample)."""
    spans: dict[tuple, list] = {}
    for docs in windows.values():
        for *doc, first, end in docs:
            spans.setdefault(tuple(doc), []).append((first, end))
    assert spans, "the document log is empty"
    for doc, parts in spans.items():
        parts.sort()
        assert all(a[1] <= b[0] for a, b in zip(parts, parts[1:])), f"document {doc} fed twice: {parts}"


def resume_copy(src: Path, dst: Path, tag_step: int) -> Path:
    """A fresh run directory holding only ``src``'s checkpoint of ``tag_step`` (as ``latest``)."""
    tag = f"step_{tag_step:08d}"
    shutil.copytree(src / "checkpoints" / tag, dst / "checkpoints" / tag)
    (dst / "checkpoints" / "latest").write_text(tag)
    return dst


def assert_close(got: dict, ref: dict, steps) -> None:
    assert sorted(got) == list(steps), f"executed steps {sorted(got)}, expected {list(steps)}"
    for s in steps:
        assert abs(got[s] - ref[s]) <= TOL * abs(ref[s]), (s, got[s], ref[s])


@pytest.fixture(scope="module")
def real_runs(prepared_sample, tmp_path_factory):
    """Uninterrupted runs on real shards: 2 ranks x micro-batch 4 and 1 rank x 8 (one global batch)."""
    out = {}
    for nproc in (2, 1):
        run = tmp_path_factory.mktemp(f"dp{nproc}")
        torchrun(nproc, CONFIG, real_overrides(prepared_sample, run, nproc))
        out[nproc] = run
    return out


def test_real_shards_same_global_batches_for_any_dp_size(real_runs):
    """1 and 2 processes read the same windows, hence train the same, from step 1."""
    two, one = documents(real_runs[2]), documents(real_runs[1])
    assert sorted(two) == list(range(STEPS * 8)) and two == one
    assert_each_token_once(two)
    assert_close(losses(real_runs[1]), losses(real_runs[2]), range(1, STEPS + 1))
    assert losses(real_runs[2])[STEPS] < losses(real_runs[2])[1]


@pytest.mark.parametrize("before,after", [(2, 1), (1, 2)], ids=["dp2-to-dp1", "dp1-to-dp2"])
def test_resume_under_another_dp_size_neither_replays_nor_skips(prepared_sample, real_runs, tmp_path, before, after):
    run = resume_copy(real_runs[before], tmp_path / "resumed", CUT)
    proc = torchrun(after, CONFIG, real_overrides(prepared_sample, run, after, **{"data.num_workers": 2}))
    assert "data-parallel size changed" in proc.stdout
    assert "continues at the saved global sample position" in proc.stdout
    ref = losses(real_runs[2])
    assert_close(losses(run), ref, range(CUT + 1, STEPS + 1))  # only the steps after the resume ran
    first = {w: d for w, d in documents(real_runs[before]).items() if w < CUT * 8}  # fed before the checkpoint
    second = documents(run)
    assert not first.keys() & second.keys(), "a window was fed in both runs"
    both = {**first, **second}
    assert both == documents(real_runs[2]), "the two runs together fed exactly the uninterrupted run's windows"
    assert_each_token_once(both)
    meta = json.loads((run / "checkpoints" / f"step_{STEPS:08d}" / "biomamba_meta.json").read_text())
    assert meta["layout"]["dp"] == after and meta["config"]["data"]["logical_streams"] == 64


SYNTH = ["max_steps=6", "log_every=1", "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=3",
         "checkpoint.keep_last=5", "wandb.enabled=false", "parallel.precision=fp32", "model.n_layer=2",
         "model.d_model=64", "model.vocab_size=512", "data.seq_len=32", "optim.lr=1e-3"]

ZERO3_UNIVERSAL = pytest.mark.xfail(strict=True, reason=(
    "known defect outside the data path: a ZeRO-3 checkpoint resumed under another DP size (DeepSpeed universal "
    "checkpoint) gives the same step-4 loss but drifts 1e-4 relative by step 6, while a same-layout ZeRO-3 "
    "resume is bitwise exact and ZeRO-1 passes"))


@pytest.mark.parametrize("zero", [1, pytest.param(3, marks=ZERO3_UNIVERSAL)])
def test_synthetic_resume_with_other_dp_size_and_grad_accumulation(tmp_path, zero):
    """2 ranks x micro-batch 4 -> 1 rank x 2 accumulation steps x 4 (universal checkpoint): the
    synthetic source counts global samples, so the resumed steps train on the same samples."""
    full = tmp_path / "full"
    common = SYNTH + [f"parallel.zero_stage={zero}", "data.micro_batch_size=4"]
    torchrun(2, TINY, common + [f"run_dir={full}"])
    run = resume_copy(full, tmp_path / "resumed", 3)
    proc = torchrun(1, TINY, common + ["parallel.gradient_accumulation_steps=2", f"run_dir={run}"])
    assert "data-parallel size changed" in proc.stdout
    # Uninterrupted, 2 ranks and 1 rank x 2 accumulation steps agree to ~1e-7 here (they sum the
    # gradients in different orders); a replayed or skipped batch would differ by ~1e-2.
    assert_close(losses(run), losses(full), range(4, 7))
    state = json.loads((run / "checkpoints" / "step_00000006" / "biomamba_meta.json").read_text())["train_state"]
    assert state["step"] == 6 and state["tokens_seen"] == 6 * 8 * 32
