"""Model selection and early stopping on an evaluation metric (``eval.select_metric``).

The loop calls :func:`update_selection` after each evaluation. An improvement makes the loop
save a checkpoint at that step; the best one is recorded in ``TrainState.best`` (so it
resumes exactly), written to ``<run_dir>/best.json`` and never pruned. ``patience``
evaluations in a row without improvement stop the run early.

Every rank must take the same decision (saving is collective), so the value is taken from
global rank 0 even though the evaluation is meant to give the same number everywhere.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from biomamba.config import ConfigError
from biomamba.io import atomic_write_json
from biomamba.rundir import RunDir

from .checkpoint import TrainState, tag_for
from .config import EvalConfig
from .distributed import collective_cpu

def _from_rank0(value: float) -> float:
    return float(collective_cpu(torch.tensor([value], dtype=torch.float64), "broadcast", src=0).item())


def _improves(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def update_selection(state: TrainState, metrics: dict, cfg: EvalConfig) -> bool:
    """Record this evaluation (at ``state.step``) in ``state``; True if it is the new best."""
    if not cfg.select_metric:
        return False
    if not isinstance(metrics.get(cfg.select_metric), (int, float)):
        numeric = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)) and k != "step")
        raise ConfigError(f"eval.select_metric={cfg.select_metric}: the evaluation gave no such metric; "
                          f"choose one of {numeric}")
    value = _from_rank0(float(metrics[cfg.select_metric]))
    if not _improves(value, state.best["value"] if state.best else None, cfg.select_mode):
        state.evals_since_best += 1
        return False
    state.best = {"tag": tag_for(state.step), "step": state.step, "metric": cfg.select_metric, "value": value}
    state.evals_since_best = 0
    return True


def patience_exhausted(state: TrainState, cfg: EvalConfig) -> bool:
    return cfg.patience is not None and state.evals_since_best >= cfg.patience


def write_best(run_dir: str | Path, best: dict) -> None:
    """``<run_dir>/best.json``: {tag, step, metric, value} (atomic; rank 0 only)."""
    atomic_write_json(RunDir(run_dir).best, best)
