"""Process groups: megatron-core's ``parallel_state`` set up once, and the adapter DeepSpeed's ``mpu=`` expects.

megatron-core is asked for the groups here, once, when they are created
(:func:`model_parallel_layout` fills :class:`~biomamba.parallel.dims.ParallelDims`); from then on the
layout is read from the dims. DeepSpeed shards ZeRO state over ``mpu.get_data_parallel_group()``
only and, in its gradient-norm, counts parameters marked ``tensor_model_parallel`` on every
model-parallel rank and the others only on model-parallel rank 0.
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


def model_parallel_layout() -> dict:
    """The TP/DP sizes, ranks and groups of this process (after :func:`init_model_parallel`)."""
    from megatron.core import parallel_state as ps

    return dict(tp=ps.get_tensor_model_parallel_world_size(), dp=ps.get_data_parallel_world_size(),
                tp_rank=ps.get_tensor_model_parallel_rank(), dp_rank=ps.get_data_parallel_rank(),
                tp_group=ps.get_tensor_model_parallel_group(), dp_group=ps.get_data_parallel_group())


def destroy_model_parallel() -> None:
    from megatron.core import parallel_state as ps

    ps.destroy_model_parallel()


class DeepSpeedMPU:
    """The ``mpu`` object DeepSpeed takes, answered from the dims: model parallel = tensor parallel (no pipeline)."""

    def __init__(self, dims):
        self.dims = dims

    # model (= tensor) parallel
    def get_model_parallel_rank(self):
        return self.dims.tp_rank

    def get_model_parallel_world_size(self):
        return self.dims.tp

    def get_model_parallel_group(self):
        return self.dims.tp_group

    get_tensor_model_parallel_rank = get_model_parallel_rank
    get_tensor_model_parallel_world_size = get_model_parallel_world_size
    get_tensor_model_parallel_group = get_model_parallel_group

    # data parallel
    def get_data_parallel_rank(self):
        return self.dims.dp_rank

    def get_data_parallel_world_size(self):
        return self.dims.dp

    def get_data_parallel_group(self):
        return self.dims.dp_group

    # no pipeline parallelism
    def get_pipeline_model_parallel_rank(self):
        return 0

    def get_pipeline_model_parallel_world_size(self):
        return 1
