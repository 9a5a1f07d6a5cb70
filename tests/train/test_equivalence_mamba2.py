"""Mamba-2 through launcher/train.py: TP=2 (by heads, ngroups=2) and ZeRO-3 DP=2 train exactly as one process.

Same protocol as test_equivalence.py (fp32, CPU/gloo, clipping active at every step, losses, clip
norms and the consolidated final weights to 1e-5 relative), on a Mamba-2 model whose 8 heads and
2 groups split over 2 ranks, with a sequence of 4 SSD chunks.
"""

from __future__ import annotations

import pytest
import torch

from biomamba.convert.consolidate import consolidate

from .launch import TINY, losses, records, torchrun
from .test_equivalence import COMMON

pytestmark = pytest.mark.slow

MAMBA2 = ["model.ssm_cfg={layer: Mamba2, d_state: 8, headdim: 16, ngroups: 2, chunk_size: 16}",
          "model.scan_chunk_size=8", "model.pad_vocab_size_multiple=16"]
LAYOUTS = {
    "A_tp1_dp1_mb8": (1, ["data.micro_batch_size=8", "parallel.zero_stage=0"]),
    "B_tp2_mb8": (2, ["data.micro_batch_size=8", "parallel.zero_stage=0", "parallel.tensor_parallel=2"]),
    "G_dp2_zero3": (2, ["data.micro_batch_size=4", "parallel.zero_stage=3"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name, (nproc, extra) in LAYOUTS.items():
        run_dir = tmp_path_factory.mktemp(name)
        torchrun(nproc, TINY, COMMON + MAMBA2 + extra + [f"run_dir={run_dir}"])
        cfg, sd, _ = consolidate(run_dir)
        norms = {r["step"]: r["grad_norm"] for r in records(run_dir) if "grad_norm" in r}
        out[name] = {"losses": losses(run_dir), "weights": sd, "grad_norms": norms, "config": cfg}
    return out


@pytest.mark.parametrize("name", [n for n in LAYOUTS if n != "A_tp1_dp1_mb8"])
def test_mamba2_same_losses_and_weights_as_one_process(runs, name):
    ref, got = runs["A_tp1_dp1_mb8"], runs[name]
    assert got["config"].is_mamba2 and got["config"].ngroups == 2
    assert sorted(got["losses"]) == [1, 2, 3, 4, 5]
    for step, loss in ref["losses"].items():
        assert abs(got["losses"][step] - loss) <= 1e-5 * abs(loss), (step, got["losses"][step], loss)
    for step, norm in ref["grad_norms"].items():
        assert abs(got["grad_norms"][step] - norm) <= 1e-5 * norm, (step, got["grad_norms"][step], norm)
        assert norm > 0.1  # clipping (grad_clip=0.1) was active
    assert set(got["weights"]) == set(ref["weights"])
    worst = max((((got["weights"][k] - v).norm() / v.norm().clamp_min(1e-12)).item(), k) for k, v in ref["weights"].items())
    assert worst[0] <= 1e-5, worst
    assert runs["A_tp1_dp1_mb8"]["losses"][5] < runs["A_tp1_dp1_mb8"]["losses"][1]  # training moved
