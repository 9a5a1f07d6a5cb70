"""bf16 autocast with fp32 master weights on CPU (DeepSpeed torch_autocast), activation checkpointing."""

from __future__ import annotations

import pytest

from biomamba.convert.consolidate import consolidate

from .launch import TINY, losses, torchrun

pytestmark = pytest.mark.slow


def test_bf16_autocast_with_activation_checkpointing_trains(tmp_path):
    torchrun(2, TINY, ["max_steps=8", "log_every=1", "eval.every_steps=4", "checkpoint.every_steps=8",
                       "parallel.precision=bf16", "parallel.activation_checkpointing=true", "parallel.zero_stage=2",
                       "model.n_layer=2", "model.d_model=64", "model.vocab_size=512", "data.seq_len=32",
                       f"run_dir={tmp_path}"])
    ls = losses(tmp_path)
    assert sorted(ls) == list(range(1, 9)) and ls[8] < ls[1]
    _, sd, meta = consolidate(tmp_path)
    # master weights (and what the checkpoint holds) stay fp32; A_log / D were never rounded to bf16
    assert all(v.dtype.is_floating_point for v in sd.values())
    a_log = sd["backbone.layers.0.mixer.A_log"]
    assert (a_log.float().bfloat16().float() != a_log).any()
    assert meta["config"]["parallel"]["precision"] == "bf16"
