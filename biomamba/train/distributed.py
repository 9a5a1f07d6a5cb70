"""Small host-side collectives shared by the engine, evaluation and preemption.

The process layout itself (torch.distributed and the TP/DP groups) is set up by
:func:`biomamba.parallel.init_parallel`, which returns a :class:`biomamba.parallel.ParallelDims`.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def collective_cpu(t: torch.Tensor, collective: str = "all_reduce", group=None, **kwargs) -> torch.Tensor:
    """Run ``dist.<collective>`` (all_reduce, broadcast) on a small host tensor; returns it on the host.

    NCCL only moves CUDA tensors, so under it the tensor makes a round trip through the GPU.
    Without an initialized process group (one process) the tensor is returned unchanged.
    """
    if not dist.is_initialized():
        return t
    dev = t.cuda() if dist.get_backend(group) == "nccl" else t
    getattr(dist, collective)(dev, group=group, **kwargs)
    return dev.cpu()


def all_reduce_sum(value: float | int, group=None) -> float:
    return collective_cpu(torch.tensor([float(value)], dtype=torch.float64), group=group).item()
