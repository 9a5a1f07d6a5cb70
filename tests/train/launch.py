"""Run the launchers under torchrun in a subprocess (to completion, or killed at a step) and read back what they wrote."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "pretrain" / "tiny_synthetic.yaml"
TRAIN = REPO / "launcher" / "train.py"
ENV = {"WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_cmd(nproc: int, config: Path, overrides: list, script: Path = TRAIN) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--master_port={free_port()}",
            str(script), "--config", str(config), *map(str, overrides)]


def torchrun(nproc: int, config: Path, overrides: list[str], timeout: int = 600, env: dict | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(torchrun_cmd(nproc, config, overrides), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **ENV, **(env or {})}, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"training failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def losses(run_dir: Path) -> dict[int, float]:
    out = {}
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "loss" in rec:
            out[rec["step"]] = rec["loss"]
    return out


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def spawn(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start ``cmd`` in its own session (so its whole process group can be killed), output to ``log``.

    A file rather than a pipe: nobody reads a pipe while the run is going, and a full pipe would
    stall the training processes.
    """
    with open(log, "w") as out:
        return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **ENV, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_step(run_dir: Path, step: int, proc: subprocess.Popen, log: Path, timeout: int = 300) -> None:
    """Block until ``run_dir`` logged a loss at ``step`` or later; fail if the run ends or stalls first."""
    deadline = time.time() + timeout
    while not ((run_dir / "metrics.jsonl").exists() and max(losses(run_dir) or [0]) >= step):
        if proc.poll() is not None:
            raise AssertionError(f"run ended before step {step}:\n{log.read_text()[-3000:]}")
        if time.time() > deadline:
            raise AssertionError(f"run stalled before step {step}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def kill9_at_step(cmd: list[str], run_dir: Path, step: int) -> None:
    """Run ``cmd`` until ``run_dir`` reaches ``step``, then SIGKILL every process of it."""
    log = run_dir.parent / f"{run_dir.name}.killed.log"
    proc = spawn(cmd, log)
    wait_for_step(run_dir, step, proc, log)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
