"""Conversion never runs code from a checkpoint file: DeepSpeed's shards go through the restricted unpickler.

A training tag folder that looks complete (COMPLETE marker, biomamba_meta.json, the shard files its
layout implies) but whose shard pickles call a function on load must be refused without calling it
— in the ZeRO-0 path (our own torch.load) and the ZeRO-1 path (inside DeepSpeed's zero_to_fp32).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from biomamba.convert.consolidate import ConversionError, consolidate, expected_files
from biomamba.model import MambaConfig

MARKER = "biomamba_unpickle_ran"


class _RunsOnLoad:
    """Unpickling this calls ``Path.touch(<marker>)``: proof that a full unpickle happened."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _hostile_checkpoint(run: Path, zero: int) -> Path:
    tag = run / "checkpoints" / "step_00000001"
    tag.mkdir(parents=True)
    layout = {"tp": 1, "dp": 1, "zero_stage": zero, "world_size": 1}
    cfg = MambaConfig(d_model=32, n_layer=1, vocab_size=256).validate()
    (tag / "biomamba_meta.json").write_text(json.dumps({"layout": layout, "config": {"model": cfg.to_dict()},
                                                        "tag": tag.name}))
    for name in expected_files(layout):
        torch.save({"module": {"x": torch.zeros(2)}, "payload": _RunsOnLoad(run / MARKER)}, tag / name)
    (tag / "COMPLETE").write_bytes(b"")
    (run / "checkpoints" / "latest").write_text(tag.name)
    return tag


@pytest.mark.parametrize("zero", [0, 1])
def test_a_shard_that_runs_code_on_load_is_refused(tmp_path, zero):
    run = tmp_path / "run"
    _hostile_checkpoint(run, zero)
    with pytest.raises(ConversionError, match=r"cannot read the TP rank 0 shards.*(?i:weights.only|unpickl)"):
        consolidate(run)
    assert not (run / MARKER).exists(), "a checkpoint pickle was fully unpickled"


def test_help_says_how_deepspeed_files_are_read():
    from biomamba.convert.cli import SAFETY

    assert "weights_only=True" in SAFETY and "COMPLETE" in SAFETY and "biomamba_meta.json" in SAFETY
