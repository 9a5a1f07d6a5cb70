"""Distributed parallelism: the process layout (:class:`ParallelDims`) and tensor parallelism applied
to a built model (the model code itself holds none)."""

from .dims import TP_PACKAGES, ParallelDims, destroy_parallel, init_parallel
from .mpu import DeepSpeedMPU
from .tensor_parallel import parallelize, vocab_parallel_token_nll

__all__ = ["ParallelDims", "init_parallel", "destroy_parallel", "TP_PACKAGES", "DeepSpeedMPU", "parallelize",
           "vocab_parallel_token_nll"]
