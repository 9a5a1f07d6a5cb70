"""bf16 autocast with fp32 master weights on CPU (DeepSpeed torch_autocast), activation checkpointing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from biomamba.convert.consolidate import consolidate
from biomamba.train.deepspeed_config import BF16_REDUCED_SUFFIXES

from .launch import ENV, REPO, TINY, losses, torchrun, torchrun_cmd

PROBE = Path(__file__).with_name("_engine_probe.py")

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


def _probe(tmp_path, tp: int, precision: str) -> dict:
    out = tmp_path / f"probe_tp{tp}_{precision}.json"
    cmd = torchrun_cmd(tp, TINY, ["model.n_layer=1", "model.d_model=32", "model.vocab_size=256",
                                  "parallel.zero_stage=1", f"parallel.tensor_parallel={tp}", f"parallel.precision={precision}",
                                  f"run_dir={tmp_path / 'run'}"], script=PROBE)
    proc = subprocess.run(cmd, cwd=REPO, env={**os.environ, **ENV, "PROBE_OUT": str(out)}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("tp", [1, 2])
def test_bf16_gradient_reduction_rule_for_the_classes_in_use(tmp_path, tp):
    """Matrix weights and conv kernels reduce in bf16; biases, dt_proj.bias, norms, A_log, D, embedding in fp32.

    With TP=2 the layers are megatron's parallel subclasses, with TP=1 torch's own: the same rule holds.
    """
    rep = _probe(tmp_path, tp, "bf16")
    bf16 = {n for n, d in rep["comm_dtype"].items() if d == "torch.bfloat16"}
    assert bf16 == {n for n in rep["comm_dtype"] if n.endswith(BF16_REDUCED_SUFFIXES)}, rep
    assert len(bf16) == 5  # one layer: in_proj, conv1d, x_proj, dt_proj, out_proj weights
    for name, dtype in rep["comm_dtype"].items():
        if name.endswith(("bias", "A_log", ".D", "norm.weight", "norm_f.weight", "embedding.weight")):
            assert dtype == "torch.float32", (name, dtype)
    # the classes in use: torch's without TP, biomamba's megatron subclasses with it (DeepSpeed's exact-class
    # rule matched neither as intended)
    assert rep["classes"]["backbone.layers.0.mixer.in_proj.weight"] == ("Linear" if tp == 1 else "ColumnParallel")
    assert rep["in_proj_out"] == "torch.bfloat16"  # autocast is on in the engine's forward


def test_fp32_run_has_no_bf16_anywhere(tmp_path):
    rep = _probe(tmp_path, 1, "fp32")
    assert set(rep["comm_dtype"].values()) == {"torch.float32"} and rep["in_proj_out"] == "torch.float32"
