"""Preemption: SIGUSR1/SIGTERM set a flag; the loop checkpoints at the next step boundary and exits 75.

Slurm sends SIGUSR1 ahead of the time limit (``#SBATCH --signal=B:USR1@120``, forwarded
by slurm/pretrain.sh) and SIGTERM on preemption; the batch script requeues the job
when the trainer exits with :data:`REQUEUE_EXIT_CODE` (EX_TEMPFAIL).
"""

from __future__ import annotations

import signal

import torch
import torch.distributed as dist

REQUEUE_EXIT_CODE = 75


class PreemptionFlag:
    def __init__(self, signals=(signal.SIGUSR1, signal.SIGTERM)):
        self.received: int | None = None
        for s in signals:
            signal.signal(s, self._handle)

    def _handle(self, signum, _frame) -> None:
        self.received = signum

    def any_rank(self) -> bool:
        """True on every rank when any rank got a signal (one tiny all-reduce per step)."""
        flag = torch.tensor([1.0 if self.received is not None else 0.0])
        if dist.is_initialized():
            if dist.get_backend() == "nccl":
                flag = flag.cuda()
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)
