"""Distributed parallelism applied to a built model (the model code itself holds none)."""

from .mpu import MegatronMPU, destroy_model_parallel, init_model_parallel
from .tensor_parallel import parallelize, tensor_parallel_world_size

__all__ = ["MegatronMPU", "init_model_parallel", "destroy_model_parallel", "parallelize", "tensor_parallel_world_size"]
