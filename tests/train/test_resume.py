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

from biomamba.convert.consolidate import consolidate

from .launch import REPO, TINY, free_port, kill9_at_step, losses, records, spawn, torchrun, torchrun_cmd, wait_for_step

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
    kill_at = random.Random(os.getpid()).randint(4, 10)
    kill9_at_step(torchrun_cmd(2, TINY, BASE + [f"run_dir={tmp_path}"]), tmp_path, kill_at)
    torchrun(2, TINY, BASE + [f"run_dir={tmp_path}"])  # auto-resumes from checkpoints/latest
    final = losses(tmp_path)  # later records of a re-run step overwrite the killed run's
    assert final == uninterrupted, f"killed at step >= {kill_at}"
    assert any(r.get("event") == "done" for r in records(tmp_path))


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
    torchrun(1, TINY, BASE + ["max_steps=6", "checkpoint.every_steps=1", "checkpoint.keep_last=10", f"run_dir={run}"],
             env={"BIOMAMBA_INJECT_NONFINITE_STEPS": "3"})
    recs = records(run)
    assert any(r.get("skipped_nonfinite") == 1 and r["step"] == 3 for r in recs)
    assert 3 not in losses(run) and {1, 2, 4, 5, 6} <= set(losses(run))
    # the skipped step changed nothing: weights after step 3 == after step 2
    _, w2, _ = consolidate(run, "step_00000002")
    _, w3, _ = consolidate(run, "step_00000003")
    assert all(torch.equal(w2[k], w3[k]) for k in w2)
    bad = torchrun(1, TINY, BASE + ["max_consecutive_nonfinite=2", f"run_dir={tmp_path / 'abort'}"],
                   env={"BIOMAMBA_INJECT_NONFINITE_STEPS": "2,3,4"}, check=False)
    assert bad.returncode != 0
    assert "2 consecutive steps had NaN/Inf loss" in bad.stdout + bad.stderr
