"""Preemption: SIGUSR1/SIGTERM set a flag; the loop checkpoints at the next step boundary and exits 75.

Slurm sends SIGUSR1 ahead of the time limit (``#SBATCH --signal=B:USR1@120``, forwarded
by slurm/pretrain.sh) and SIGTERM on preemption; the batch script requeues the job
when the trainer exits with :data:`REQUEUE_EXIT_CODE` (EX_TEMPFAIL).

:func:`install_handlers` runs first thing in ``launcher/train.py`` (this module imports
nothing heavy), so a signal that arrives while torch/DeepSpeed are still importing is
remembered instead of killing the process.
"""

from __future__ import annotations

import signal

REQUEUE_EXIT_CODE = 75
_received: list[int] = []


def _handle(signum, _frame) -> None:
    _received.append(signum)


def install_handlers(signals=(signal.SIGUSR1, signal.SIGTERM)) -> None:
    for s in signals:
        signal.signal(s, _handle)


class PreemptionFlag:
    def __init__(self):
        install_handlers()  # idempotent; keeps anything received earlier

    @property
    def received(self) -> int | None:
        return _received[-1] if _received else None

    def any_rank(self) -> bool:
        """True on every rank when any rank got a signal (one tiny all-reduce per step)."""
        import torch
        import torch.distributed as dist

        from .distributed import collective_cpu

        flag = collective_cpu(torch.tensor([1.0 if _received else 0.0]), op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)
