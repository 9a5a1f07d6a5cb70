"""Bytes per GPU of weights, gradients and optimizer states under DeepSpeed ZeRO 0-3.

BioMamba keeps every parameter in fp32 in both precisions: ``bf16`` is torch
autocast (biomamba.train.deepspeed_config), not DeepSpeed's bf16 mode. The
optimizer is torch AdamW (m and v in fp32). With ``P`` = parameters on one TP
rank and ``DP = gpus / tp``, what DeepSpeed 0.19 actually allocates:

=====  ===========  =============  ==============================================
stage  weights      gradients      optimizer
=====  ===========  =============  ==============================================
0      4 P          4 P            8 P   (torch AdamW on the model's parameters)
1      4 P          4 P            12 P/DP  m, v + an fp32 clone of the rank's
                                   partition (stage_1_and_2.py clones it even
                                   when the parameters are already fp32)
2      4 P          4 P/DP         12 P/DP  (as stage 1; gradients partitioned)
3      4 P/DP +     4 P/DP         8 P/DP   the fp32 partitions ARE the master
       4 P_persist                          weights (stage3.py reuses them when
                                            dtypes match: no clone)
=====  ===========  =============  ==============================================

ZeRO-1 partitions optimizer states over DP, ZeRO-2 also gradients, ZeRO-3 also
parameters. Partitions are ``ceil(P/DP)`` (stage 3: per tensor, as DeepSpeed
does); DeepSpeed's alignment padding of stage 1/2 groups (< 2·DP elements) is
ignored. ``P_persist``: ZeRO-3 keeps tensors of <= ``stage3_param_persistence_threshold``
(1e5) elements gathered on every rank besides their partition.

Transient DeepSpeed buffers, allocated during every backward (they coincide
with the activation peak, so they are counted), at BioMamba's
``parallel.reduce_bucket_size`` (5e7 elements; DeepSpeed's own default 5e8
would cost 4 GB per GPU under autocast whatever the model size):

* stages 1-2: one gradient reduce bucket of ``reduce_bucket_size``
  elements per communication dtype, in the parameters' dtype (fp32). Under
  autocast the Linear/Conv1d parameters communicate in bf16 and the rest in
  fp32: two buckets, 2 × 5e7 × 4 B = 400 MB. Under fp32: one, 200 MB.
* stage 3: one bucket per communication dtype in that dtype (5e7 × (2 + 4) B
  under autocast), plus the gathered working set: the largest partitioned
  tensor (fp32, on one TP rank) plus ``stage3_prefetch_bucket_size`` (5e7)
  prefetched elements.
"""

from __future__ import annotations

from biomamba.model.config import MambaConfig
from biomamba.train.config import ParallelConfig

from .inventory import inventory

FP32 = 4
ADAM_STATE_BYTES = 8  # exp_avg + exp_avg_sq, fp32
REDUCE_BUCKET_SIZE = ParallelConfig().reduce_bucket_size  # what biomamba.train's DeepSpeed config sets
PREFETCH_BUCKET_SIZE = 50_000_000  # stage3_prefetch_bucket_size default
PERSISTENCE_THRESHOLD = 100_000  # stage3_param_persistence_threshold default


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def model_state_bytes(cfg: MambaConfig, *, zero: int, tp: int, dp: int, precision: str = "bf16",
                      reduce_bucket_size: int = REDUCE_BUCKET_SIZE) -> dict:
    """Per-GPU bytes: ``weights``, ``gradients``, ``optimizer``, ``deepspeed_buffers`` (see module doc)."""
    if zero not in (0, 1, 2, 3):
        raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {zero}")
    if dp < 1:
        raise ValueError(f"data-parallel degree must be >= 1, got {dp}")
    tensors = inventory(cfg, tp)
    p = sum(t.local_numel for t in tensors)
    part = _ceil_div(p, dp)
    comm_dtype_bytes = [2, FP32] if precision == "bf16" else [FP32]
    if zero == 0:
        weights, grads, optim, buffers = FP32 * p, FP32 * p, ADAM_STATE_BYTES * p, 0
    elif zero in (1, 2):
        weights = FP32 * p
        grads = FP32 * p if zero == 1 else FP32 * part
        optim = (FP32 + ADAM_STATE_BYTES) * part  # fp32 master clone + m + v
        buffers = len(comm_dtype_bytes) * reduce_bucket_size * FP32
    else:
        part = sum(_ceil_div(t.local_numel, dp) for t in tensors)
        persist = sum(t.local_numel for t in tensors if t.local_numel <= PERSISTENCE_THRESHOLD)
        largest = max((t.local_numel for t in tensors if t.local_numel > PERSISTENCE_THRESHOLD), default=0)
        weights = FP32 * (part + persist)
        grads = FP32 * part
        optim = ADAM_STATE_BYTES * part
        buffers = reduce_bucket_size * sum(comm_dtype_bytes) + FP32 * (largest + PREFETCH_BUCKET_SIZE)
    return {"weights": weights, "gradients": grads, "optimizer": optim, "deepspeed_buffers": buffers}
