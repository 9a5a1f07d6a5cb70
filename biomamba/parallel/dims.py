"""Where this process stands: one :class:`ParallelDims` carries the TP/DP sizes, ranks and groups.

:func:`init_parallel` starts torch.distributed (through DeepSpeed, which every launcher can drive:
torchrun, deepspeed, srun or a single process) and the tensor-/data-parallel groups, once, and
returns the dims; everything else (model sharding, the loss, the engine, evaluation) reads the
layout from that object and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch
import torch.distributed as dist

from biomamba.slurm import DistEnv, export_torch_env

# The package behind the TP layers and groups, recorded in every run's versions.json.
TP_PACKAGES = ("megatron-core",)


@dataclasses.dataclass(frozen=True)
class ParallelDims:
    """The layout of one process: ``world_size = tp * dp``; TP groups are consecutive ranks (one node).

    The defaults describe one process on the CPU with no process group (tests, tools).
    """

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    tp: int = 1
    dp: int = 1
    tp_rank: int = 0
    dp_rank: int = 0
    tp_group: Any = None
    dp_group: Any = None
    device: torch.device = torch.device("cpu")
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _skip_deepspeed_shm_build() -> None:
    """Stop DeepSpeed's CPU accelerator from JIT-compiling its shared-memory comm op (~85 s).

    That op only serves ``inference_all_reduce``; training collectives go through
    torch.distributed (gloo on CPU). DeepSpeed consults ``deepspeed.ops.__compatible_ops__``
    before building, so marking the op incompatible skips the build. Set
    ``BIOMAMBA_DS_SHM_OP=1`` to keep DeepSpeed's default (then cache the build with a
    node-local ``TORCH_EXTENSIONS_DIR``).
    """
    if os.environ.get("BIOMAMBA_DS_SHM_OP") == "1":
        return
    import deepspeed.ops
    from deepspeed.accelerator import get_accelerator

    if get_accelerator().device_name() == "cpu":
        builder = get_accelerator().create_op_builder("ShareMemCommBuilder")
        if builder is not None:
            deepspeed.ops.__compatible_ops__[builder.NAME] = False


def init_parallel(tensor_parallel: int, backend: str = "auto") -> ParallelDims:
    """Initialize torch.distributed (via DeepSpeed) and the TP/DP groups; return where we are."""
    env = DistEnv.from_environ()
    export_torch_env(env)
    use_cuda = torch.cuda.is_available()
    if backend == "auto":
        backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(env.local_rank % torch.cuda.device_count())
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device("cpu")
    _skip_deepspeed_shm_build()
    import deepspeed

    if not dist.is_initialized():
        deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False)
    from .mpu import init_model_parallel, model_parallel_layout

    init_model_parallel(tensor_parallel)
    return ParallelDims(world_size=dist.get_world_size(), rank=dist.get_rank(), local_rank=env.local_rank,
                        device=device, backend=backend, **model_parallel_layout())


def destroy_parallel() -> None:
    """Tear down the TP/DP groups and the process group (safe to call when neither exists)."""
    from .mpu import destroy_model_parallel

    destroy_model_parallel()
    if dist.is_initialized():
        dist.destroy_process_group()
