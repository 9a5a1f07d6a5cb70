"""Payload of a 2-node Slurm test job: rendezvous through biomamba.slurm, gloo all_reduce.

Run as `srun python tests/slurm/jobs/allreduce.py OUT_DIR` without MASTER_ADDR /
MASTER_PORT in the environment, so every task derives them itself (scontrol on
the step's nodelist, port from the job id).  Each rank writes OUT_DIR/rank<N>.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from biomamba.slurm import DistEnv, default_backend, export_torch_env


def main() -> None:
    out = Path(sys.argv[1])
    env = DistEnv.from_environ()
    export_torch_env(env)
    dist.init_process_group(default_backend(), init_method="env://", timeout=timedelta(seconds=60))
    value = torch.tensor([float(env.rank + 1)])
    dist.all_reduce(value)  # sum of 1..world
    dist.destroy_process_group()
    record = {"env": dataclasses.asdict(env), "sum": value.item(), "backend": default_backend()}
    (out / f"rank{env.rank}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
