"""Process-group setup shared by every launcher (torchrun, deepspeed, srun, or a single process)."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist

from biomamba.slurm import DistEnv, export_torch_env


@dataclasses.dataclass
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    tp_rank: int = 0
    tp_size: int = 1
    dp_rank: int = 0
    dp_size: int = 1

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


def init_distributed(tensor_parallel: int, backend: str = "auto") -> Runtime:
    """Initialize torch.distributed (via DeepSpeed) and megatron's TP/DP groups; return where we are."""
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
    from biomamba.parallel import init_model_parallel
    from megatron.core import parallel_state as ps

    init_model_parallel(tensor_parallel)
    return Runtime(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=env.local_rank,
        device=device,
        backend=backend,
        tp_rank=ps.get_tensor_model_parallel_rank(),
        tp_size=ps.get_tensor_model_parallel_world_size(),
        dp_rank=ps.get_data_parallel_rank(),
        dp_size=ps.get_data_parallel_world_size(),
    )


def shutdown() -> None:
    from biomamba.parallel import destroy_model_parallel

    destroy_model_parallel()
    if dist.is_initialized():
        dist.destroy_process_group()


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
