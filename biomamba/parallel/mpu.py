"""Process groups: megatron-core's ``parallel_state`` set up once, and the adapter DeepSpeed's ``mpu=`` expects.

DeepSpeed shards ZeRO state over ``mpu.get_data_parallel_group()`` only and, in its
gradient-norm, counts parameters marked ``tensor_model_parallel`` on every model-parallel
rank and the others only on model-parallel rank 0.
"""

from __future__ import annotations

import torch.distributed as dist


def init_model_parallel(tensor_parallel: int) -> None:
    """Create TP and DP groups (TP groups are consecutive ranks, i.e. within a node)."""
    from megatron.core import parallel_state as ps

    if ps.model_parallel_is_initialized():
        if ps.get_tensor_model_parallel_world_size() != tensor_parallel:
            raise RuntimeError("model parallel state already initialized with a different tensor_parallel size")
        return
    world = dist.get_world_size()
    if world % tensor_parallel:
        raise ValueError(f"tensor_parallel={tensor_parallel} does not divide the world size {world}")
    ps.initialize_model_parallel(tensor_model_parallel_size=tensor_parallel)


def destroy_model_parallel() -> None:
    from megatron.core import parallel_state as ps

    ps.destroy_model_parallel()


class MegatronMPU:
    """The ``mpu`` object DeepSpeed takes: model parallel = tensor parallel (no pipeline)."""

    def __init__(self):
        from megatron.core import parallel_state as ps

        self.ps = ps

    # model (= tensor) parallel
    def get_model_parallel_rank(self):
        return self.ps.get_tensor_model_parallel_rank()

    def get_model_parallel_world_size(self):
        return self.ps.get_tensor_model_parallel_world_size()

    def get_model_parallel_group(self):
        return self.ps.get_tensor_model_parallel_group()

    get_tensor_model_parallel_rank = get_model_parallel_rank
    get_tensor_model_parallel_world_size = get_model_parallel_world_size
    get_tensor_model_parallel_group = get_model_parallel_group

    # data parallel
    def get_data_parallel_rank(self):
        return self.ps.get_data_parallel_rank()

    def get_data_parallel_world_size(self):
        return self.ps.get_data_parallel_world_size()

    def get_data_parallel_group(self):
        return self.ps.get_data_parallel_group()

    # no pipeline parallelism
    def get_pipeline_model_parallel_rank(self):
        return 0

    def get_pipeline_model_parallel_world_size(self):
        return 1
