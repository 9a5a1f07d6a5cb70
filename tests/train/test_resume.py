"""Resume is exact: kill -9, preemption signal, NaN skipping (a change of the data-parallel size: test_elastic.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest
import torch

from biomamba.config import load_config
from biomamba.convert.consolidate import consolidate
from biomamba.train.config import TrainConfig
from biomamba.train.schedule import lr_multiplier

from .launch import (FAULTY_TRAIN, REPO, TINY, assert_resumed, free_port, kill9_at_step, kill9_run, losses, records,
                     spawn, torchrun, torchrun_cmd, wait_for, wait_for_step)
from .wandb_log import history

pytestmark = pytest.mark.slow

BASE = ["max_steps=12", "log_every=1", "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=3",
        "parallel.precision=fp32", "model.n_layer=2", "model.d_model=64", "model.vocab_size=512", "data.seq_len=32",
        "data.micro_batch_size=4", "parallel.zero_stage=1"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("full")
    torchrun(2, TINY, BASE + [f"run_dir={d}"])
    return losses(d)


def test_kill9_then_resume_gives_identical_losses(tmp_path, uninterrupted):
    # At least 5 steps before the end: on a quiet machine a tiny step takes tens of ms, and a kill aimed at
    # step 10 (polled every 0.2 s) once landed after step 12, when there was nothing left to resume.
    kill_at = random.Random(os.getpid()).randint(4, 7)
    offline = {"WANDB_MODE": "offline"}
    killed = kill9_at_step(torchrun_cmd(2, TINY, BASE + [f"run_dir={tmp_path}"]), tmp_path, kill_at, env=offline)
    assert killed.step < 12 and not any(r.get("event") == "done" for r in records(tmp_path))
    proc = torchrun(2, TINY, BASE + [f"run_dir={tmp_path}"], env=offline)  # auto-resumes from checkpoints/latest
    assert f"resumed from {killed.latest}" in proc.stdout
    assert_resumed(tmp_path, killed)
    final = losses(tmp_path)  # later records of a re-run step overwrite the killed run's
    assert final == uninterrupted, f"killed at step {killed.step}"
    # W&B: the killed and the resumed segment; its own step never goes back, so nothing is dropped
    segments = history(tmp_path)
    assert len(segments) == 2
    wandb_steps = [r["_step"] for seg in segments for r in seg]
    assert all(a < b for a, b in zip(wandb_steps, wandb_steps[1:])), wandb_steps
    assert {r["step"]: r["loss"] for r in segments[1] if "loss" in r} == {
        s: v for s, v in uninterrupted.items() if s > killed.resume_step}
    assert any(r.get("event") == "done" for r in records(tmp_path))


def test_kill9_during_a_checkpoint_write_resumes_from_the_previous_tag(tmp_path, uninterrupted):
    """Killed inside the save of step 6 (DeepSpeed's shards written, COMPLETE not): resume takes step 3."""
    cmd = torchrun_cmd(2, TINY, BASE + [f"run_dir={tmp_path}"])
    log = tmp_path.parent / f"{tmp_path.name}.held.log"
    proc = spawn(cmd, log, {"BIOMAMBA_FAULT_HOLD_SAVE": "6"})
    wait_for(lambda: len(list(tmp_path.glob(".fault_hold_rank*"))) == 2, "the save of step 6", proc, log)
    tag = tmp_path / "checkpoints" / "step_00000006"
    assert list(tag.glob("mp_rank_*_model_states.pt")) and list(tag.glob("*optim_states.pt"))
    assert not (tag / "COMPLETE").exists()
    assert (tmp_path / "checkpoints" / "latest").read_text() == "step_00000003"
    killed = kill9_run(proc, tmp_path)
    assert killed.step == 6 and killed.latest == "step_00000003"
    done = torchrun(2, TINY, BASE + [f"run_dir={tmp_path}"])
    assert "resumed from step_00000003" in done.stdout
    assert_resumed(tmp_path, killed)
    assert losses(tmp_path) == uninterrupted  # nothing lost beyond the steps since step 3
    ckpts = tmp_path / "checkpoints"
    assert (ckpts / "latest").read_text() == "step_00000012"
    assert all((t / "COMPLETE").is_file() for t in ckpts.glob("step_*"))  # the interrupted save left nothing behind


def test_signal_checkpoints_exits_75_and_resumes(tmp_path, uninterrupted):
    """Single process (no torchrun) so the exit code reaches us, as under srun."""
    cmd = [sys.executable, str(REPO / "launcher" / "train.py"), "--config", str(TINY), *BASE,
           "data.micro_batch_size=8", f"run_dir={tmp_path}"]
    env = {**os.environ, "WANDB_MODE": "disabled", "MASTER_PORT": str(free_port())}
    log = tmp_path.parent / f"{tmp_path.name}.signalled.log"
    proc = spawn(cmd, log, env)
    wait_for_step(tmp_path, 4, proc, log)
    proc.send_signal(signal.SIGUSR1)
    proc.wait(timeout=300)
    assert proc.returncode == 75, log.read_text()[-3000:]
    events = [r for r in records(tmp_path) if r.get("event") == "preempted"]
    assert events and (tmp_path / "checkpoints" / events[0]["checkpoint"] / "COMPLETE").is_file()
    meta = json.loads((tmp_path / "checkpoints" / events[0]["checkpoint"] / "biomamba_meta.json").read_text())
    run_id = meta["train_state"]["wandb_run_id"]
    done = subprocess.run(cmd, cwd=REPO, env={**env, "MASTER_PORT": str(free_port())}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final = json.loads((tmp_path / "checkpoints" / "step_00000012" / "biomamba_meta.json").read_text())
    assert run_id and final["train_state"]["wandb_run_id"] == run_id  # W&B resumes the same run after requeue
    # 1 process × micro-batch 8 == 2 processes × 4: the same training as the uninterrupted run
    got = losses(tmp_path)
    assert sorted(got) == list(range(1, 13))
    for step, loss in uninterrupted.items():
        assert abs(got[step] - loss) <= 1e-5 * loss


def test_nonfinite_steps_are_skipped_then_abort(tmp_path):
    run = tmp_path / "skip"
    torchrun(1, TINY, BASE + ["max_steps=6", "checkpoint.every_steps=1", "checkpoint.keep_last=10", f"run_dir={run}",
                              "--inject-nonfinite", "3"], script=FAULTY_TRAIN)
    recs = records(run)
    assert any(r.get("skipped_nonfinite") == 1 and r["step"] == 3 for r in recs)
    assert 3 not in losses(run) and {1, 2, 4, 5, 6} <= set(losses(run))
    # the skipped step changed nothing: weights after step 3 == after step 2
    _, w2, _ = consolidate(run, "step_00000002")
    _, w3, _ = consolidate(run, "step_00000003")
    assert all(torch.equal(w2[k], w3[k]) for k in w2)
    # ...and did not advance the LR schedule: after the skip, the lr logged at step k is the one a run
    # without the skip logs at step k - 1 (the schedule counts updates applied)
    cfg = load_config(TrainConfig, TINY, BASE + ["max_steps=6"])
    lr = {r["step"]: r["lr"] for r in recs if "lr" in r}
    applied = {k: k if k < 3 else k - 1 for k in lr}
    for k, n in applied.items():
        want = cfg.optim.lr * lr_multiplier(n, 6, cfg.schedule, cfg.optim.min_lr_ratio)
        assert lr[k] == pytest.approx(want, rel=1e-9), (k, lr[k], want)
    bad = torchrun(1, TINY, BASE + ["max_consecutive_nonfinite=2", f"run_dir={tmp_path / 'abort'}",
                                    "--inject-nonfinite", "2,3,4"], check=False, script=FAULTY_TRAIN)
    assert bad.returncode != 0
    assert "2 consecutive steps had NaN/Inf loss" in bad.stdout + bad.stderr
