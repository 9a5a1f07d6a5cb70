"""DeepSpeed's JSON config, derived from the typed run config (one source of truth)."""

from __future__ import annotations

import json
from pathlib import Path

from .config import TrainConfig

# Modules whose weights may be communicated in bf16 under torch autocast. A_log, D and
# norm weights are plain parameters of other modules, so they stay fp32 end to end.
LOWER_PRECISION_SAFE = [
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.conv.Conv1d",
    "megatron.core.tensor_parallel.layers.ColumnParallelLinear",
    "megatron.core.tensor_parallel.layers.RowParallelLinear",
]


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
        ds["torch_autocast"] = {"enabled": True, "dtype": "bfloat16", "lower_precision_safe_modules": LOWER_PRECISION_SAFE}
    if p.deepspeed_config:
        extra = json.loads(Path(p.deepspeed_config).read_text())
        ds = _merge(ds, extra)
    return ds


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
