"""The engine on real shards from the sample corpus: loader + eval metrics + W&B + exact resume with workers."""

from __future__ import annotations

import json
import math

import pytest

from .launch import REPO, assert_resumed, kill9_at_step, losses, records, torchrun, torchrun_cmd

pytestmark = pytest.mark.slow

CONFIG = REPO / "configs" / "pretrain" / "tiny_sample.yaml"


def overrides(data, run_dir, **extra):
    base = {
        "run_dir": run_dir, "tokenizer": data / "tokenizer" / "tokenizer.model",
        "data.datasets.0.path": data / "shards" / "train", "data.val_path": data / "shards" / "val",
        "max_steps": 16, "log_every": 1, "eval.every_steps": 8, "checkpoint.every_steps": 4,
        "model.n_layer": 2, "model.d_model": 64, "data.seq_len": 64, "data.micro_batch_size": 4,
        "data.num_workers": 1, "schedule.warmup_steps": 2,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


@pytest.fixture(scope="module")
def full_run(prepared_sample, tmp_path_factory):
    run = tmp_path_factory.mktemp("real_full")
    torchrun(2, CONFIG, overrides(prepared_sample, run), env={"WANDB_MODE": "offline"})
    return run


def test_trains_evaluates_and_logs(full_run):
    recs = records(full_run)
    ls = losses(full_run)
    assert sorted(ls) == list(range(1, 17)) and ls[16] < ls[1]
    evals = [r for r in recs if "val_loss" in r]
    assert [e["step"] for e in evals] == [8, 16]
    for e in evals:
        assert e["val_tokens"] > 0 and e["val_bytes"] > 0
        assert e["val_ppl"] == pytest.approx(math.exp(e["val_loss"]), rel=1e-6)
        assert 0 < e["val_bpb"] < e["val_loss"] * 2  # nats/token over bytes/token: bytes >= tokens here
    assert evals[1]["val_loss"] < evals[0]["val_loss"]
    step = [r for r in recs if r.get("step") == 16 and "loss" in r][0]
    for key in ("grad_norm", "lr", "tokens_per_s", "tflops_per_device", "time_data_s", "time_compute_s",
                "time_fwd_bwd_s", "time_optimizer_s", "mem_rss_gb"):
        assert key in step
    assert step["step_tokens"] == step["step_scored_tokens"] == 2 * 4 * 64  # packed windows: every token scored
    meta = json.loads((full_run / "checkpoints" / "step_00000016" / "biomamba_meta.json").read_text())
    assert meta["tokenizer_hash"] and meta["train_state"]["tokens_seen"] == 16 * 2 * 4 * 64
    assert list((full_run / "wandb").glob("offline-run-*"))
    assert (full_run / "config.yaml").is_file() and (full_run / "versions.json").is_file()


def test_kill9_resume_with_loader_workers_is_exact(prepared_sample, full_run, tmp_path):
    killed = kill9_at_step(torchrun_cmd(2, CONFIG, overrides(prepared_sample, tmp_path)), tmp_path, 10)
    assert killed.step < 16
    torchrun(2, CONFIG, overrides(prepared_sample, tmp_path))
    assert_resumed(tmp_path, killed)
    assert losses(tmp_path) == losses(full_run)  # bitwise: same floats from the same data in the same order
