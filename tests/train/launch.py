"""Run the launchers under torchrun in a subprocess (to completion, or killed at a step) and read back what they wrote."""

from __future__ import annotations

import dataclasses
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
# launcher/train.py with NaN losses at chosen steps (biomamba.train.faults): pass --inject-nonfinite 3,4
FAULTY_TRAIN = REPO / "tests" / "train" / "_faulty_train.py"
ENV = {"WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_cmd(nproc: int, config: Path, overrides: list, script: Path = TRAIN) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--master_port={free_port()}",
            str(script), "--config", str(config), *map(str, overrides)]


def torchrun(nproc: int, config: Path, overrides: list[str], timeout: int = 600, env: dict | None = None,
             check: bool = True, script: Path = TRAIN) -> subprocess.CompletedProcess:
    proc = subprocess.run(torchrun_cmd(nproc, config, overrides, script), capture_output=True, text=True, timeout=timeout,
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


def wait_for(done, what: str, proc: subprocess.Popen, log: Path, timeout: int = 300) -> None:
    """Block until ``done()``; fail if the run ends or stalls first."""
    deadline = time.time() + timeout
    while not done():
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {what}:\n{log.read_text()[-3000:]}")
        if time.time() > deadline:
            raise AssertionError(f"run stalled before {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def wait_for_step(run_dir: Path, step: int, proc: subprocess.Popen, log: Path, timeout: int = 300) -> None:
    """Block until ``run_dir`` logged a loss at ``step`` or later; fail if the run ends or stalls first."""
    wait_for(lambda: (run_dir / "metrics.jsonl").exists() and max(losses(run_dir) or [0]) >= step,
             f"step {step}", proc, log, timeout)


@dataclasses.dataclass
class Killed:
    """Where a run was when it was killed: the last logged step, the newest complete checkpoint, and how
    many metrics records it had written (those after are the restarted run's)."""

    step: int
    latest: str | None
    lines: int

    @property
    def resume_step(self) -> int:
        return int(self.latest.split("_")[1]) if self.latest else 0


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill9_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` (started in its own session by :func:`spawn`) and every process below it, then assert
    that none survives.

    torchrun starts each rank with ``start_new_session=True``, so killing torchrun's process group
    leaves the ranks (and their DataLoader workers, which share the rank's group) running. Every
    descendant's process group is collected first and killed as a whole.
    """
    import psutil

    procs = [psutil.Process(proc.pid), *_descendants(proc.pid)]
    groups = set()
    for p in procs:
        try:
            groups.add(os.getpgid(p.pid))
        except ProcessLookupError:
            pass
    for g in groups:
        try:
            os.killpg(g, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    _gone, alive = psutil.wait_procs(procs, timeout=30)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"processes survived kill -9: {[(p.pid, p.cmdline()[:4]) for p in alive]}"
    left = [p.pid for p in psutil.process_iter() if p.status() != psutil.STATUS_ZOMBIE and _pgid(p.pid) in groups]
    assert not left, f"processes left in the killed process groups {sorted(groups)}: {left}"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _latest(run_dir: Path) -> str | None:
    f = Path(run_dir) / "checkpoints" / "latest"
    return f.read_text().strip() if f.is_file() else None


def kill9_run(proc: subprocess.Popen, run_dir: Path) -> Killed:
    """SIGKILL the whole run (all ranks, nothing survives) and say where it was."""
    kill9_tree(proc)
    logged = losses(run_dir) if (Path(run_dir) / "metrics.jsonl").exists() else {}
    return Killed(step=max(logged or [0]), latest=_latest(run_dir),
                  lines=len(records(run_dir)) if logged else 0)


def kill9_at_step(cmd: list[str], run_dir: Path, step: int, env: dict | None = None) -> Killed:
    """Run ``cmd`` until ``run_dir`` reaches ``step``, then SIGKILL every process of it (all ranks included)."""
    log = run_dir.parent / f"{run_dir.name}.killed.log"
    proc = spawn(cmd, log, env)
    wait_for_step(run_dir, step, proc, log)
    return kill9_run(proc, run_dir)


def assert_resumed(run_dir: Path, killed: Killed) -> None:
    """The restarted run really trained: it logged a loss for every logged step after the checkpoint it
    resumed from (re-running those the killed run had already done), and went past the kill."""
    new = {r["step"] for r in records(run_dir)[killed.lines:] if "loss" in r}
    after_resume = {s for s in losses(run_dir) if s > killed.resume_step}
    assert after_resume and after_resume <= new, (killed, sorted(new))
    assert max(new) > killed.step, (killed, sorted(new))
