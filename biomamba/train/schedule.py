"""Learning-rate schedules as multipliers of the peak lr: linear warmup, then cosine, WSD or constant.

WSD (warmup-stable-decay): constant peak lr after warmup, then a linear decay to
``min_lr_ratio`` over the last ``decay_fraction`` of training — it lets a run be
extended or branched from the stable phase without re-planning the whole schedule.
"""

from __future__ import annotations

import math

import torch

from .config import ScheduleConfig


def lr_multiplier(step: int, max_steps: int, cfg: ScheduleConfig, min_ratio: float) -> float:
    """Multiplier for optimizer step ``step`` (0-based) of ``max_steps``."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.kind == "constant":
        return 1.0
    if cfg.kind == "cosine":
        span = max(1, max_steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    # wsd
    decay_steps = max(1, int(round(cfg.decay_fraction * max_steps)))
    decay_start = max(cfg.warmup_steps, max_steps - decay_steps)
    if step < decay_start:
        return 1.0
    progress = min(1.0, (step - decay_start) / max(1, max_steps - decay_start))
    return 1.0 - (1 - min_ratio) * progress


def build_scheduler(optimizer: torch.optim.Optimizer, max_steps: int, cfg: ScheduleConfig, min_ratio: float):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_multiplier(s, max_steps, cfg, min_ratio))
