"""W&B keeps every step after a resume: its own step only ever increases across restarts of a run."""

from __future__ import annotations

import time
from types import SimpleNamespace

from biomamba.train.metrics import MetricsLogger

from .wandb_log import history


def test_resumed_run_logs_with_increasing_wandb_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = SimpleNamespace(enabled=True, project="biomamba-test", entity=None, run_name=None, mode="offline")
    first = MetricsLogger(tmp_path, True, cfg, {}, "resumetest01")
    for step in range(1, 10):  # killed after step 9; its last checkpoint was step 6
        first.log({"step": step, "loss": 1.0 / step})
    first.wandb.finish()  # the killed process's W&B data as a finished offline segment
    time.sleep(1.1)  # offline run folders are named to the second; a real restart takes far longer
    second = MetricsLogger(tmp_path, True, cfg, {}, "resumetest01")
    for step in range(7, 13):  # the resumed process re-runs 7..9
        second.log({"step": step, "loss": 1.0 / step})
    second.close()
    segments = history(tmp_path)
    assert len(segments) == 2
    rows = segments[0] + segments[1]
    wandb_steps = [r["_step"] for r in rows]
    assert all(a < b for a, b in zip(wandb_steps, wandb_steps[1:])), wandb_steps  # nothing W&B would drop
    assert [r["step"] for r in rows] == list(range(1, 10)) + list(range(7, 13))  # the x-axis is the training step
    assert {r["step"]: r["loss"] for r in segments[1]} == {s: 1.0 / s for s in range(7, 13)}
