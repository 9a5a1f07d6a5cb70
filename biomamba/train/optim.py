"""AdamW with mamba_ssm's weight-decay exclusions.

No weight decay on ``A_log`` and ``D`` (mamba_ssm marks them ``_no_weight_decay``), on norm
weights, or on biases. Parameters are selected by name because attribute markers do not
survive meta-device materialization or tensor-parallel re-creation.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import OptimConfig


def is_no_decay(name: str, param: torch.Tensor) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf in ("A_log", "D", "bias") or name.endswith("norm.weight") or name.endswith("norm_f.weight") or param.ndim < 2


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay, seen = [], [], set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:  # tied weights appear once
            continue
        seen.add(id(p))
        (no_decay if is_no_decay(name, p) else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]

def build_optimizer(model: nn.Module, cfg: OptimConfig, device_type: str) -> torch.optim.Optimizer:
    impl = cfg.impl
    if impl == "auto":
        impl = "fused" if device_type == "cuda" else "torch"
    kwargs = dict(lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    if impl == "fused":
        if device_type != "cuda":
            raise ValueError("optim.impl=fused needs CUDA; use optim.impl=torch or auto on CPU")
        # torch's own fused AdamW kernel: no DeepSpeed op build (FusedAdam JIT) needed on the cluster.
        return torch.optim.AdamW(param_groups(model, cfg.weight_decay), fused=True, **kwargs)
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), foreach=True, **kwargs)
