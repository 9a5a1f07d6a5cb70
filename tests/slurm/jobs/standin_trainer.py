"""Stand-in for launcher/train.py that tests slurm/pretrain.sh's signal and requeue logic.

It keeps the trainer's contract (docs/CONTRACTS.md) without a model:
  * called as  standin_trainer.py --config CONFIG [key=value ...]  on every srun task,
    and with --dry-run (prints the resolved config, here just run_dir) on the batch node;
  * rendezvous through biomamba.slurm + torch.distributed (gloo), one all_reduce per step;
  * SIGUSR1/SIGTERM set a flag; at the next step boundary all ranks agree, rank 0
    writes <run_dir>/checkpoints/latest after a barrier, and every rank exits 75;
  * it resumes from checkpoints/latest, and finishes after `steps_after_resume` steps.
A fresh run (no checkpoint) waits for a signal, up to `max_wait` seconds (then
exits 1), so the test decides when the interruption happens.

Overrides understood (all optional):
  standin.exit=N               the tasks exit N at once
  standin.dry_run_exit=N       --dry-run fails with N (a config error)
  standin.dry_run_sleep=S      --dry-run takes S seconds, touching <run_dir>/../dry_run_started first
  standin.fresh_steps=N        a fresh run finishes after N steps instead of waiting for a signal
  standin.steps_after_resume=N [5]    standin.max_wait=SECONDS [240]
  standin.save_seconds=S [0]   how long "saving" takes: the signal path must allow it
Each rank appends one JSON line per event to <run_dir>/events.rank<N>.jsonl
(run_dir=... override, default runs/standin).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from biomamba.slurm import DistEnv, default_backend, export_torch_env

ENV_KEYS = ("MASTER_ADDR", "MASTER_PORT", "BIOMAMBA_DIST_BACKEND", "WANDB_MODE", "WANDB_DIR",
            "TRITON_CACHE_DIR", "TORCH_EXTENSIONS_DIR", "OMP_NUM_THREADS")

stop_signal: list[str] = []


def on_signal(signum, frame):  # noqa: ARG001
    stop_signal.append(signal.Signals(signum).name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    opts = dict(o.split("=", 1) for o in args.overrides)
    run_dir = Path(opts.get("run_dir", "runs/standin"))
    if args.dry_run:
        if "standin.dry_run_sleep" in opts:  # a slow config check; tells the test it began
            (run_dir.parent / "dry_run_started").touch()
            time.sleep(float(opts["standin.dry_run_sleep"]))
        if "standin.dry_run_exit" in opts:  # a config error found by --dry-run
            print("config error: standin.dry_run_exit: asked to fail", file=sys.stderr)
            return int(opts["standin.dry_run_exit"])
        print(f"log_every: 10\nrun_dir: {run_dir}\nmodel:\n  run_dir: not-this-one")
        return 0
    if "standin.exit" in opts:
        return int(opts["standin.exit"])

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    env = DistEnv.from_environ()
    run_dir.mkdir(parents=True, exist_ok=True)
    log = (run_dir / f"events.rank{env.rank}.jsonl").open("a")

    def event(name: str, **fields) -> None:
        log.write(json.dumps({"event": name, "restart": env.restart_count, "rank": env.rank, **fields}) + "\n")
        log.flush()

    export_torch_env(env)
    dist.init_process_group(default_backend(), init_method="env://", timeout=timedelta(seconds=60))
    latest = run_dir / "checkpoints" / "latest"
    step = int(latest.read_text()) if latest.exists() else 0
    event("start", step=step, argv=sys.argv[1:], world_size=env.world_size, node_rank=env.node_rank,
          job_id=env.job_id, env={k: os.environ.get(k) for k in ENV_KEYS})

    resumed = step > 0
    target = step + int(opts.get("standin.steps_after_resume", 5)) if resumed else None
    if not resumed and "standin.fresh_steps" in opts:
        target = int(opts["standin.fresh_steps"])
    deadline = time.monotonic() + float(opts.get("standin.max_wait", 240))
    while target is None or step < target:
        time.sleep(0.2)
        step += 1
        # Every rank stops at the same step even if the signal reached them at different times.
        flag = torch.tensor([1.0 if stop_signal else 0.0])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if step == 1:
            event("ready")
        if flag.item():
            time.sleep(float(opts.get("standin.save_seconds", 0)))  # a checkpoint takes a while
            dist.barrier()  # "every rank saved"
            if env.rank == 0:
                latest.parent.mkdir(parents=True, exist_ok=True)
                tmp = latest.with_suffix(".tmp")
                tmp.write_text(str(step))
                tmp.replace(latest)
            dist.barrier()
            event("checkpointed", step=step, signal=stop_signal[:1])
            dist.destroy_process_group()
            return 75
        if time.monotonic() > deadline:
            event("never_signalled", step=step)
            return 1
    dist.barrier()
    event("done", step=step)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
