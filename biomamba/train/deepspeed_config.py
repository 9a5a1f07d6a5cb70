"""DeepSpeed's JSON config, derived from the typed run config (one source of truth)."""

from __future__ import annotations

import json
from pathlib import Path

from .config import TrainConfig

# Gradient reduction under bf16 autocast: one rule, by parameter name, whatever the module class.
# DeepSpeed's own rule (``lower_precision_safe_modules``) matches exact classes: it missed our
# TP layer subclasses (fp32 reduction with TP) and caught every nn.Linear/Conv1d parameter
# without TP, biases included. Ours: the mixer's weight matrices and conv kernels -- large, and
# their gradients are sums of many bf16-computed products anyway -- reduce in bf16; everything
# that sets scales or offsets of the recurrence or the residual stream (biases, dt_proj.bias
# above all, norms, A_log, D) and the embedding/head reduce in fp32, so rounding never biases
# them. The attribute is DeepSpeed's (``comm_dtype``), set before ``deepspeed.initialize``
# builds its per-dtype reduction buckets.
BF16_REDUCED_SUFFIXES = ("in_proj.weight", "x_proj.weight", "dt_proj.weight", "out_proj.weight", "conv1d.weight")


def bf16_reduced(name: str) -> bool:
    return name.endswith(BF16_REDUCED_SUFFIXES)


def mark_gradient_reduction_dtypes(model) -> list[str]:
    """Give each bf16-reduced parameter DeepSpeed's ``comm_dtype``; returns their names."""
    import torch
    from deepspeed.runtime.torch_autocast import PARAM_COMM_DTYPE_ATTR_NAME

    marked = []
    for name, p in model.named_parameters():
        if bf16_reduced(name):
            setattr(p, PARAM_COMM_DTYPE_ATTR_NAME, torch.bfloat16)
            marked.append(name)
    return marked


def deepspeed_config(cfg: TrainConfig, dp_size: int) -> dict:
    p = cfg.parallel
    mb = cfg.data.micro_batch_size
    ds = {
        "train_micro_batch_size_per_gpu": mb,
        "gradient_accumulation_steps": p.gradient_accumulation_steps,
        "train_batch_size": mb * p.gradient_accumulation_steps * dp_size,
        "gradient_clipping": cfg.optim.grad_clip,
        "zero_optimization": {"stage": p.zero_stage, "reduce_bucket_size": p.reduce_bucket_size,
                              **({"allgather_bucket_size": p.allgather_bucket_size} if p.zero_stage in (1, 2) else {})},
        # Our AdamW is torch's (fused on CUDA); DeepSpeed calls it "untested" but drives it normally.
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 1 << 30,  # we log ourselves (biomamba.train.metrics)
        "wall_clock_breakdown": False,
    }
    if p.precision == "bf16":
        # torch autocast with fp32 master weights rather than DeepSpeed's "bf16" mode, which would
        # cast every parameter (A_log and D included) to bf16.
        # No class-based marking by DeepSpeed: mark_gradient_reduction_dtypes applies our rule.
        ds["torch_autocast"] = {"enabled": True, "dtype": "bfloat16", "lower_precision_safe_modules": []}
    if p.deepspeed_config:
        extra = json.loads(Path(p.deepspeed_config).read_text())
        ds = _merge(ds, extra)
    return ds


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
