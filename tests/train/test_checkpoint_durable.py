"""Checkpoints are durable before they are trusted, and a DP-size change's conversion has a stated timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from biomamba.config import ConfigError
from biomamba.train.universal import UNIVERSAL_SUFFIX, convert_to_universal

from .launch import ENV, REPO, TINY, free_port, torchrun

# One real DeepSpeed engine (1 process, gloo, ZeRO-1) saves one checkpoint while every os.fsync is
# recorded with the path of its file descriptor, in order.
PROBE = r"""
import json, os, sys
calls, real = [], os.fsync
def fsync(fd):
    calls.append(os.readlink(f"/proc/self/fd/{fd}"))
    return real(fd)
os.fsync = fsync
from biomamba.config import load_config
from biomamba.parallel import DeepSpeedMPU, destroy_parallel, init_parallel
from biomamba.train.build import build_model
from biomamba.train.checkpoint import CheckpointManager, TrainState
from biomamba.train.config import TrainConfig
from biomamba.train.deepspeed_config import deepspeed_config
from biomamba.train.optim import build_optimizer
from biomamba.train.schedule import build_scheduler
import deepspeed
cfg = load_config(TrainConfig, sys.argv[1], sys.argv[2:])
dims = init_parallel(1, "gloo")
model = build_model(cfg, dims)
opt = build_optimizer(model, cfg.optim, "cpu")
sched = build_scheduler(opt, cfg.max_steps, cfg.schedule, cfg.optim.min_lr_ratio)
engine, *_ = deepspeed.initialize(model=model, optimizer=opt, lr_scheduler=sched, mpu=DeepSpeedMPU(dims),
                                  config=deepspeed_config(cfg, 1))
calls.clear()
CheckpointManager(cfg.run_dir, 2, 0).save(engine, TrainState(step=1), None, {"layout": {"tp": 1, "dp": 1}})
destroy_parallel()
print("FSYNCS " + json.dumps(calls))
"""


def test_shards_and_folders_are_fsynced_before_complete_and_latest(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, **ENV, "MASTER_PORT": str(free_port())}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(TINY), f"run_dir={run}", "model.n_layer=1",
                           "model.d_model=32", "model.vocab_size=256", "parallel.zero_stage=1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    calls = json.loads(proc.stdout.split("FSYNCS ", 1)[1].splitlines()[0])
    tag = run / "checkpoints" / "step_00000001"
    complete = next(i for i, p in enumerate(calls) if os.path.basename(p).startswith(".COMPLETE.tmp"))
    latest = next(i for i, p in enumerate(calls) if os.path.basename(p).startswith(".latest.tmp"))
    before = set(calls[:complete])
    shards = [str(p) for p in tag.iterdir() if p.suffix == ".pt"]
    assert any("optim_states" in s for s in shards) and any("model_states" in s for s in shards)
    for f in shards:
        assert f in before, f"{f} was not fsynced before COMPLETE"
    assert str(tag) in before and str(tag.parent) in before  # the folder entries too
    assert complete < latest  # latest moves only after COMPLETE is durable


def test_universal_conversion_timeout_is_a_clean_error(tmp_path):
    tag = tmp_path / "step_00000003"
    tag.mkdir()
    # Even starting the converter (importing DeepSpeed) takes longer than this.
    with pytest.raises(ConfigError, match=r"checkpoint.universal_timeout_s=0.2 s; raise it"):
        convert_to_universal(tag, workers=2, timeout_s=0.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [tag.name]  # no partial output left behind
    assert not (tmp_path / (tag.name + UNIVERSAL_SUFFIX)).exists()


@pytest.mark.slow
def test_every_rank_learns_of_a_conversion_timeout(tmp_path):
    """DP=1 -> DP=2 with a too-short timeout: both ranks stop with the error (none waits at a barrier)."""
    base = ["max_steps=4", "log_every=1", "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=2",
            "model.n_layer=1", "model.d_model=32", "model.vocab_size=256", "data.seq_len=16",
            "parallel.zero_stage=1", "schedule.warmup_steps=1", f"run_dir={tmp_path}"]
    torchrun(1, TINY, base + ["max_steps=2", "data.micro_batch_size=8"])
    proc = torchrun(2, TINY, base + ["data.micro_batch_size=4", "checkpoint.universal_timeout_s=0.5"], check=False,
                    timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert out.count("config error: converting") == 2, out[-4000:]  # rank 0 and rank 1
    assert "checkpoint.universal_timeout_s=0.5 s" in out
