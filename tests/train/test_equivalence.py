"""The engine computes the same training whatever the parallel layout (CPU, gloo, fp32, same init and data).

Reference A: 1 process, micro-batch 8, ZeRO-0. Every other fp32 layout trains on the same
global batches (biomamba.train.synthetic_data) and must give the same losses over 5
steps and the same final weights (consolidated from its checkpoint) to 1e-5 relative.
The cluster defaults are covered too: TP=2 x DP=2 (4 processes), TP=2 with ZeRO-1 and -2,
and bf16 autocast as on the cluster (DP=2, ZeRO-1) vs TP=1 at the tolerance stated in BF16_RTOL.
(bf16 with TP>1 needs CUDA: megatron's TP autograd functions restore autocast in backward only
there, so on CPU the launcher refuses it with a config error; see test_bad_input.py.)
"""

from __future__ import annotations

import pytest
import torch

from biomamba.convert.consolidate import consolidate

from .launch import TINY, losses, records, torchrun

pytestmark = pytest.mark.slow

# grad_clip=0.1 keeps clipping active at every step (norms are ~1), so a gradient norm that
# double-counted replicated or missed sharded parameters under TP/ZeRO would change the updates.
COMMON = ["max_steps=5", "log_every=1", "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=5",
          "parallel.precision=fp32", "optim.lr=1e-3", "optim.grad_clip=0.1", "schedule.warmup_steps=2",
          "model.n_layer=2", "model.d_model=64", "model.vocab_size=512", "data.seq_len=32"]

LAYOUTS = {
    "A_tp1_dp1_mb8": (1, ["data.micro_batch_size=8", "parallel.zero_stage=0"]),
    "B_tp2_mb8": (2, ["data.micro_batch_size=8", "parallel.zero_stage=0", "parallel.tensor_parallel=2"]),
    "C_dp2_mb4": (2, ["data.micro_batch_size=4", "parallel.zero_stage=0"]),
    "D_ga2_mb4": (1, ["data.micro_batch_size=4", "parallel.gradient_accumulation_steps=2", "parallel.zero_stage=0"]),
    "E_dp2_zero1": (2, ["data.micro_batch_size=4", "parallel.zero_stage=1"]),
    "F_dp2_zero2": (2, ["data.micro_batch_size=4", "parallel.zero_stage=2"]),
    "G_dp2_zero3": (2, ["data.micro_batch_size=4", "parallel.zero_stage=3"]),
    "H_tp2_zero3": (2, ["data.micro_batch_size=8", "parallel.zero_stage=3", "parallel.tensor_parallel=2"]),
    "I_tp2_dp2_zero1": (4, ["data.micro_batch_size=4", "parallel.zero_stage=1", "parallel.tensor_parallel=2"]),
    "J_tp2_zero1": (2, ["data.micro_batch_size=8", "parallel.zero_stage=1", "parallel.tensor_parallel=2"]),
    "K_tp2_zero2": (2, ["data.micro_batch_size=8", "parallel.zero_stage=2", "parallel.tensor_parallel=2"]),
    # the head's loss 7 positions at a time (parallel.loss_chunk_tokens), recomputed in the backward
    "L_loss_chunk": (1, ["data.micro_batch_size=8", "parallel.zero_stage=1", "parallel.loss_chunk_tokens=7"]),
    "M_tp2_zero3_loss_chunk": (2, ["data.micro_batch_size=8", "parallel.zero_stage=3", "parallel.tensor_parallel=2",
                                   "parallel.loss_chunk_tokens=7"]),
    # bf16 autocast (fp32 master weights), ZeRO-1 as on the cluster; compared with each other, not with A
    "bf16_tp1": (1, ["data.micro_batch_size=8", "parallel.zero_stage=1", "parallel.precision=bf16"]),
    "bf16_dp2": (2, ["data.micro_batch_size=4", "parallel.zero_stage=1", "parallel.precision=bf16"]),
}
FP32 = [n for n in LAYOUTS if n != "A_tp1_dp1_mb8" and not n.startswith("bf16")]
# bf16 rounds every matmul input to 8 mantissa bits (relative 2^-9 ~ 2e-3) and DP=2 reduces the
# weight-matrix gradients in bf16, so the runs differ from each other and from fp32 by rounding
# only: the stated bound is 1e-2 relative on losses and weights over 5 steps (measured: losses
# 1-3e-5, weights ~3e-3 vs fp32, see test_bf16_autocast_is_really_on).
BF16_RTOL = 1e-2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name, (nproc, extra) in LAYOUTS.items():
        run_dir = tmp_path_factory.mktemp(name)
        torchrun(nproc, TINY, [*COMMON, *extra, f"run_dir={run_dir}"])
        _, sd, meta = consolidate(run_dir)
        norms = {r["step"]: r["grad_norm"] for r in records(run_dir) if "grad_norm" in r}
        out[name] = {"losses": losses(run_dir), "weights": sd, "meta": meta, "grad_norms": norms}
    for name in ("bf16_tp1", "bf16_dp2"):  # recorded for the report (pytest -s)
        print(name, "vs fp32 A, max rel. diff: losses", _loss_diff(out, name), "weights", _weight_diff(out, name))
    return out


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


@pytest.mark.parametrize("name", FP32)
def test_same_losses_and_weights_as_reference(runs, name):
    ref, got = runs["A_tp1_dp1_mb8"], runs[name]
    assert sorted(got["losses"]) == [1, 2, 3, 4, 5]
    for step, loss in ref["losses"].items():
        assert abs(got["losses"][step] - loss) <= 1e-5 * abs(loss), (step, got["losses"][step], loss)
    for step, norm in ref["grad_norms"].items():  # the clipping norm itself agrees
        assert abs(got["grad_norms"][step] - norm) <= 1e-5 * norm, (step, got["grad_norms"][step], norm)
        assert norm > 0.1  # so clipping was active
    assert set(got["weights"]) == set(ref["weights"])
    worst = max((_rel(got["weights"][k], ref["weights"][k]), k) for k in ref["weights"])
    assert worst[0] <= 1e-5, worst


def test_training_moved_the_weights(runs):
    """Guard against a vacuous pass: the reference's loss fell and its weights changed."""
    ref = runs["A_tp1_dp1_mb8"]["losses"]
    assert ref[5] < ref[1]


def test_bf16_dp2_matches_bf16_tp1(runs):
    """The cluster's precision and layout vs one process: losses and weights agree to BF16_RTOL."""
    ref, got = runs["bf16_tp1"], runs["bf16_dp2"]
    assert sorted(got["losses"]) == [1, 2, 3, 4, 5]
    for step, loss in ref["losses"].items():
        assert abs(got["losses"][step] - loss) <= BF16_RTOL * abs(loss), (step, got["losses"][step], loss)
    worst = max((_rel(got["weights"][k], ref["weights"][k]), k) for k in ref["weights"])
    assert worst[0] <= BF16_RTOL, worst
    assert ref["losses"][5] < ref["losses"][1]


def _loss_diff(runs, name: str) -> float:
    ref, got = runs["A_tp1_dp1_mb8"]["losses"], runs[name]["losses"]
    return max(abs(got[s] - ref[s]) / abs(ref[s]) for s in ref)


def _weight_diff(runs, name: str) -> float:
    ref, got = runs["A_tp1_dp1_mb8"]["weights"], runs[name]["weights"]
    return max(_rel(got[k], ref[k]) for k in ref)


@pytest.mark.parametrize("name", ["bf16_tp1", "bf16_dp2"])
def test_bf16_autocast_is_really_on(runs, name):
    """Fails if precision=bf16 silently trained in fp32: the run must differ from the fp32 reference A
    (same data, init and updates) far more than any fp32 layout does, yet stay within BF16_RTOL.
    The final weights are the clear signal. Measured 2026-12-06 (CPU, torch 2.13, Intel Xeon): weights
    3.1e-3 (bf16_tp1) and 3.2e-3 (bf16_dp2) relative against at most 1.3e-6 for the fp32 layouts; losses
    0.9e-5 and 1.7e-5 against at most 1.1e-7 (2.8e-5 and 2.2e-5 on an AMD EPYC: the bf16 matmul path
    depends on the CPU, so no fixed threshold on the losses). The direct check (in_proj computes in
    bf16 inside the engine's forward) is tests/train/test_precision.py."""
    fp32_loss = max(_loss_diff(runs, n) for n in FP32)
    fp32_weights = max(_weight_diff(runs, n) for n in FP32)
    loss, weights = _loss_diff(runs, name), _weight_diff(runs, name)
    assert weights > 100 * fp32_weights, (weights, fp32_weights)
    assert loss > 10 * fp32_loss, (loss, fp32_loss)
    assert loss <= BF16_RTOL and weights <= BF16_RTOL, (loss, weights)
