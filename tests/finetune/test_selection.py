"""Model selection and early stopping (biomamba.train.selection) and the pinned best checkpoint."""

from __future__ import annotations

import math

import pytest

from biomamba.config import ConfigError
from biomamba.train.checkpoint import COMPLETE, CheckpointManager, TrainState, tag_for
from biomamba.train.config import EvalConfig
from biomamba.train.selection import patience_exhausted, update_selection


def run(values, **cfg):
    """Feed evaluations at steps 10, 20, … -> (improved flags, final state)."""
    eval_cfg = EvalConfig(select_metric="m", **cfg).validate()
    state, flags = TrainState(), []
    for i, v in enumerate(values, 1):
        state.step = 10 * i
        flags.append(update_selection(state, {"m": v, "other": 1.0}, eval_cfg))
    return flags, state, eval_cfg


def test_improvements_are_strict_and_follow_the_mode():
    flags, state, _ = run([0.5, 0.7, 0.7, 0.6, 0.9])
    assert flags == [True, True, False, False, True]
    assert state.best == {"tag": tag_for(50), "step": 50, "metric": "m", "value": 0.9} and state.evals_since_best == 0
    flags, state, _ = run([2.0, 1.5, 1.6, math.nan, 1.4], select_mode="min")
    assert flags == [True, True, False, False, True] and state.best["step"] == 50


def test_patience_counts_evaluations_without_improvement():
    _, state, cfg = run([0.5, 0.9, 0.8, 0.9], patience=3)
    assert state.evals_since_best == 2 and not patience_exhausted(state, cfg)
    _, state, cfg = run([0.5, 0.9, 0.8, 0.9, 0.1], patience=3)
    assert patience_exhausted(state, cfg) and state.best["step"] == 20


def test_unknown_metric_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"eval.select_metric=m.*\['other'\]"):
        update_selection(TrainState(step=1), {"other": 1.0, "step": 1}, EvalConfig(select_metric="m"))


def test_pruning_never_deletes_the_pinned_best(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=1, rank=0)
    for step in (10, 20, 30, 40):
        (manager.dir / tag_for(step)).mkdir(parents=True)
        (manager.dir / tag_for(step) / COMPLETE).write_bytes(b"")
    manager.pinned = tag_for(20)
    manager._prune(keep=tag_for(40))
    assert sorted(p.name for p in manager.dir.iterdir()) == [tag_for(20), tag_for(40)]
