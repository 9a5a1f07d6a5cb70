"""Memory and throughput planner: does a model/GPU/parallelism configuration fit, and how fast will it train?

Python API (bytes unless noted; formulas in docs/planner.md):

* :func:`plan_memory` — per-GPU weights, gradients, optimizer states, DeepSpeed buffers,
  activations, reserve, total and ``fits`` for one (ZeRO stage, TP degree, micro-batch).
* :func:`max_micro_batch` — the largest micro-batch that fits.
* :func:`activation_memory` — one micro-batch's activation peak with its tensor-by-tensor terms.
* :func:`predicted_peak_bytes` — ``torch.cuda.max_memory_allocated()`` predicted for a
  single-GPU ZeRO-0 step (for GPU checks against a measured peak).
* :func:`throughput` — step time and tokens/day from an MFU or a measured tokens/s.

CLI: ``python -m biomamba.plan --model 2.8b --gpus 16 --gpu-mem-gb 80`` (see :mod:`.cli`).
"""

from .cli import main
from .inventory import inventory, local_param_count, valid_tp_degrees
from .memory import activation_memory, max_micro_batch, plan_memory, predicted_peak_bytes
from .states import model_state_bytes
from .throughput import throughput

__all__ = [
           "activation_memory",
           "inventory",
           "local_param_count",
           "main",
           "max_micro_batch",
           "model_state_bytes",
           "plan_memory",
           "predicted_peak_bytes",
           "throughput",
           "valid_tp_degrees",
]
