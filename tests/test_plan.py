"""The memory/throughput planner (biomamba.plan) against hand computations and against autograd.

The 130m numbers below are written out from the model's shapes (d_model 768, d_inner 1536,
d_state 16, dt_rank 48, d_conv 4, 24 layers, vocab 50280), not from the planner's code.
"""

from __future__ import annotations

import json
import runpy
import sys

import pytest
import torch

from biomamba.config import load_config
from biomamba.model import MambaConfig, MambaLM
from biomamba.parallel.tp_layout import shard
from biomamba.plan import (
    activation_memory,
    inventory,
    local_param_count,
    main,
    max_micro_batch,
    model_state_bytes,
    plan_memory,
    predicted_peak_bytes,
    throughput,
)
from biomamba.train.loss import token_nll


@pytest.fixture(scope="module")
def cfg130(repo_root) -> MambaConfig:
    return load_config(MambaConfig, repo_root / "configs" / "model" / "130m.yaml")


@pytest.fixture(scope="module")
def tiny(repo_root) -> MambaConfig:
    return load_config(MambaConfig, repo_root / "configs" / "model" / "tiny.yaml")


P130 = 129_135_360  # 50280·768 + 24 × 3,771,648 + 768
# TP=2: everything but the 25 norm weights (24·768 + 768) is halved.
P130_TP2 = (P130 - 25 * 768) // 2 + 25 * 768
# ZeRO-3 keeps tensors of <= 1e5 elements whole. Per layer, TP=1: conv1d.weight 6144, conv1d.bias 1536,
# dt_proj.weight 73,728, dt_proj.bias 1536, A_log 24,576, D 1536, norm 768; plus norm_f.
PERSIST_TP1 = 24 * (6144 + 1536 + 73_728 + 1536 + 24_576 + 1536 + 768) + 768
# TP=2 halves those (norm stays) and x_proj (61,440 local) now falls under the threshold.
PERSIST_TP2 = 24 * (3072 + 768 + 61_440 + 36_864 + 768 + 12_288 + 768 + 768) + 768


def test_parameter_counts(cfg130):
    assert P130_TP2 == 64_577_280
    assert sum(t.numel for t in inventory(cfg130)) == P130
    assert local_param_count(cfg130, 1) == P130
    assert local_param_count(cfg130, 2) == P130_TP2
    assert plan_memory(cfg130, gpus=8, gpu_mem_gb=80, zero=1, tp=2)["params_per_gpu"] == P130_TP2


@pytest.mark.parametrize("tp", [1, 2, 4])
def test_inventory_matches_model_and_sharding(cfg130, tp):
    """Names and per-rank sizes agree with the built model and the real TP sharding table."""
    with torch.device("meta"):
        model = MambaLM(cfg130)
    params = dict(model.named_parameters())
    inv = {t.name: t for t in inventory(cfg130, tp)}
    assert set(inv) == set(params)
    for name, p in params.items():
        assert inv[name].numel == p.numel()
        assert inv[name].local_numel == shard(name, p, tp, 0).numel(), name


# (zero, tp) -> (weights, gradients, optimizer, deepspeed_buffers) bytes per GPU, 8 GPUs, bf16.
B12 = 2 * 50_000_000 * 4  # stages 1-2: one fp32 reduce bucket per communication dtype (bf16, fp32)
B3 = 50_000_000 * (2 + 4)  # stage 3: one bucket per communication dtype, in that dtype
HAND_STATES = {
    (0, 1): (4 * P130, 4 * P130, 8 * P130, 0),
    (1, 1): (4 * P130, 4 * P130, 12 * P130 // 8, B12),
    (2, 1): (4 * P130, 4 * P130 // 8, 12 * P130 // 8, B12),
    (3, 1): (4 * P130 // 8 + 4 * PERSIST_TP1, 4 * P130 // 8, 8 * P130 // 8, B3 + 4 * (50280 * 768 + 50_000_000)),
    (0, 2): (4 * P130_TP2, 4 * P130_TP2, 8 * P130_TP2, 0),
    (1, 2): (4 * P130_TP2, 4 * P130_TP2, 12 * P130_TP2 // 4, B12),
    (2, 2): (4 * P130_TP2, 4 * P130_TP2 // 4, 12 * P130_TP2 // 4, B12),
    (3, 2): (4 * P130_TP2 // 4 + 4 * PERSIST_TP2, 4 * P130_TP2 // 4, 8 * P130_TP2 // 4,
             B3 + 4 * (50280 * 768 // 2 + 50_000_000)),
}


@pytest.mark.parametrize("zero,tp", sorted(HAND_STATES))
def test_model_states_130m_by_hand(cfg130, zero, tp):
    got = model_state_bytes(cfg130, zero=zero, tp=tp, dp=8 // tp)
    assert (got["weights"], got["gradients"], got["optimizer"], got["deepspeed_buffers"]) == HAND_STATES[(zero, tp)]
    assert HAND_STATES[(0, 1)][:3] == (516_541_440, 516_541_440, 1_033_082_880)  # the 16 B/param of plain Adam


def test_fp32_has_one_reduce_bucket(cfg130):
    assert model_state_bytes(cfg130, zero=2, tp=1, dp=8, precision="fp32")["deepspeed_buffers"] == 50_000_000 * 4


# Activations, 130m, micro-batch 2 × 2048 tokens (T = 4096), bf16 autocast, CUDA kernels, TP=1.
T, D, E, N, R, V = 4096, 768, 1536, 16, 48, 50280
LAYER_BY_HAND = [
    T * D * 4,  # norm input: the fp32 residual stream
    T * 4,  # norm rstd
    T * D * 2,  # in_proj input, cast to bf16
    T * 2 * E * 2,  # xz
    T * E * 2,  # u = SiLU(conv) (x_proj input)
    T * E * 2,  # u made contiguous by the scan
    T * (R + 2 * N) * 2,  # x_dbl
    T * E * 2,  # delta, contiguous
    2 * T * N * 2,  # B and C, contiguous
    T * E * 2,  # z, contiguous
    T * E * 2,  # scan output before gating
    2 * E * 1 * 2 * N * 4,  # scan states: (b, e, ceil(2048/2048), 2n) fp32
    T * E * 2,  # out_proj input
    2 * E * N * 4,  # exp(A_log) and A
    2 * E * D * 2, (R + 2 * N) * E * 2, E * R * 2, D * E * 2,  # bf16 weights of in/x/dt/out_proj
]
HEAD_BY_HAND = [T * 8, T * D * 4, T * 4, T * D * 2, V * D * 2, T * V * 4, T * 9 + 4]
LOGITS, LOSS_GRADS = T * V * 2, 2 * T * V * 4


def test_activations_130m_by_hand(cfg130):
    got = activation_memory(cfg130, micro_batch=2, seq=2048)
    assert got["layer_bytes"] == sum(LAYER_BY_HAND) == 128_532_480
    assert got["head_bytes"] == sum(HEAD_BY_HAND) == 919_977_988
    # The peak is the loss's backward: every block's tensors + head + logits + loss gradients.
    assert got["moment"] == "loss backward"
    assert got["peak"] == 24 * sum(LAYER_BY_HAND) + sum(HEAD_BY_HAND) + LOGITS + LOSS_GRADS == 6_064_226_308

    ckpt = activation_memory(cfg130, micro_batch=2, seq=2048, activation_checkpointing=True)
    # Block 0: the fp32 embedding output, which block 1 also gets as its residual; blocks 1-23: the bf16
    # mixer output; blocks 2-23: a new fp32 residual.
    inputs = T * D * 4 + 23 * T * D * 2 + 22 * T * D * 4
    assert ckpt["checkpoint_inputs_bytes"] == inputs
    assert ckpt["peak"] == inputs + sum(HEAD_BY_HAND) + LOGITS + LOSS_GRADS == 3_413_557_252


def test_chunked_loss_shrinks_only_the_vocabulary_terms(cfg130):
    """parallel.loss_chunk_tokens=256 at 2048: logits, log-probabilities and loss gradients of 256 positions."""
    Tc = 2 * 256
    got = activation_memory(cfg130, micro_batch=2, seq=2048, activation_checkpointing=True, loss_chunk_tokens=256)
    inputs = T * D * 4 + 23 * T * D * 2 + 22 * T * D * 4
    head = sum(HEAD_BY_HAND) - T * V * 4 + Tc * V * 4
    assert (got["logits_bytes"], got["loss_backward_bytes"]) == (Tc * V * 2, 2 * Tc * V * 4)
    assert got["head_bytes"] == head
    assert got["peak"] == max(inputs + head + Tc * V * 2 + 2 * Tc * V * 4, got["moments"]["last block backward"])
    assert activation_memory(cfg130, micro_batch=2, seq=2048, loss_chunk_tokens=4096)["peak"] == 6_064_226_308


def test_predicted_peak_single_gpu(cfg130):
    assert predicted_peak_bytes(cfg130, 2, 2048) == 16 * P130 + 6_064_226_308


def test_max_micro_batch_is_the_boundary(cfg130):
    kw = {"gpus": 8, "gpu_mem_gb": 24, "zero": 1, "tp": 1, "seq": 2048}
    best = max_micro_batch(cfg130, **kw)
    assert best > 0
    assert plan_memory(cfg130, micro_batch=best, **kw)["fits"]
    assert not plan_memory(cfg130, micro_batch=best + 1, **kw)["fits"]
    assert max_micro_batch(cfg130, **{**kw, "gpu_mem_gb": 5}) == 0  # 4 GiB bucket + 4 GiB reserve


def test_throughput_by_hand(cfg130):
    fpt = 786_972_672  # 3 × (24 × layer forward + 2·768·50280) from biomamba.model.flops' table
    got = throughput(cfg130, gpus=8, global_batch_tokens=8 * 2048, tflops=989.0, mfu=0.4)
    assert got["flops_per_token"] == fpt
    assert got["tokens_per_s"] == pytest.approx(8 * 989e12 * 0.4 / fpt)
    assert got["tokens_per_day"] == pytest.approx(86_400 * 8 * 989e12 * 0.4 / fpt)
    assert got["step_time_s"] == pytest.approx(8 * 2048 / (8 * 989e12 * 0.4 / fpt))
    measured = throughput(cfg130, gpus=8, global_batch_tokens=0, tflops=989.0, measured_tokens_per_s=1e6)
    assert measured["mfu"] == pytest.approx(1e6 * fpt / (8 * 989e12))


# ---------- the planner's activation terms against what autograd really saves (CPU) ----------

def _saved_bytes(model: MambaLM, ids: torch.Tensor, precision: str, checkpointing: bool) -> int:
    """Bytes of the unique storages autograd saves in a forward + loss, parameters excluded.

    With checkpointing, the checkpointed blocks' own saves are discarded by torch's
    checkpoint hooks (inner hooks win), and what it keeps is the blocks' inputs, which
    forward pre-hooks record.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def record(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            storages[s.data_ptr()] = s.nbytes()
        return t

    model.backbone.gradient_checkpointing = checkpointing
    def record_inputs(_module, args) -> None:
        for a in args:
            if a is not None:
                record(a)

    hooks = [layer.register_forward_pre_hook(record_inputs) for layer in model.backbone.layers] if checkpointing else []
    try:
        with torch.autograd.graph.saved_tensors_hooks(record, lambda t: t):
            with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
                logits = model(ids)
            nll, _ = token_nll(logits, ids)
        assert nll.requires_grad
        return sum(storages.values())
    finally:
        for h in hooks:
            h.remove()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("b,L", [(2, 256), (1, 129)])  # 2 scan chunks of 128; b=1 makes F.linear's copy a view
def test_activation_terms_match_autograd(tiny, precision, checkpointing, b, L):
    """Tolerance 2%: the CPU backend's terms are meant to be exact (they are, with torch 2.13)."""
    cfg = MambaConfig.from_dict({**tiny.to_dict(), "scan_impl": "fast"})
    torch.manual_seed(0)
    model = MambaLM(cfg).init_weights(0)
    ids = torch.randint(0, cfg.vocab_size, (b, L))
    measured = _saved_bytes(model, ids, precision, checkpointing)
    predicted = activation_memory(cfg, micro_batch=b, seq=L, precision=precision, backend="cpu",
                                  activation_checkpointing=checkpointing)["saved"]
    assert abs(predicted - measured) <= 0.02 * measured, (predicted, measured)


# ---------- CLI ----------

def test_cli_table(capsys):
    assert main(["--model", "130m", "--gpus", "8", "--plain"]) == 0
    out = capsys.readouterr().out
    for key in ("129,135,360", "params/rank", "ZeRO", "weights", "grads", "optim", "DS bufs", "act ckpt", "max mb",
                "tokens/day", "step s"):
        assert key in out, key
    table = [row for row in map(str.split, out.splitlines()) if len(row) == 16 and row[0].isdigit()]
    assert {(row[0], row[2]) for row in table} == {(tp, z) for tp in "1248" for z in "0123"}


def test_cli_json_matches_api(capsys, cfg130):
    assert main(["--model", "130m", "--gpus", "8", "--zero", "3", "--tp", "2", "--micro-batch", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (row,) = doc["rows"]
    api = plan_memory(cfg130, gpus=8, gpu_mem_gb=80, zero=3, tp=2, micro_batch=4)
    assert {k: row[k] for k in api} == api
    assert row["global_batch_tokens"] == 4 * 4 * 2048
    assert doc["throughput"]["tokens_per_day"] == pytest.approx(86_400 * 8 * 989e12 * 0.4 / 786_972_672)


@pytest.mark.parametrize("argv,message", [
    (["--model", "2.8b", "--gpus", "16", "--tp", "3"], "d_inner=5120 (expand*d_model) is not divisible by 3"),
    (["--model", "130m", "--gpus", "6", "--tp", "4"], "does not divide --gpus 6"),
    (["--model", "no-such-scale", "--gpus", "8"], "known scales"),
    (["--model", "130m", "--gpus", "8", "--micro-batch", "0"], "must be >= 1"),
])
def test_cli_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_with_model_path(repo_root, capsys, monkeypatch):
    """``python -m biomamba.plan`` (run in-process: a new interpreter would import torch again)."""
    path = repo_root / "configs" / "model" / "tiny.yaml"
    monkeypatch.setattr(sys, "argv", ["biomamba.plan", "--model", str(path), "--gpus", "2", "--gpu-mem-gb", "16",
                                      "--zero", "1", "--plain"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("biomamba.plan", run_name="__main__")
    assert exc.value.code == 0
    assert "2,800,896 parameters" in capsys.readouterr().out


def test_docs_scale_table_is_the_planners(repo_root):
    """docs/planner.md's table is what ``biomamba-plan --scales-table --gpus 8`` prints today."""
    from biomamba.plan.scales import scales_table

    generated = scales_table(gpus=8).splitlines()
    documented = [line for line in (repo_root / "docs" / "planner.md").read_text().splitlines()
                  if line.startswith("| ") and "parameters" not in line and any(c.isdigit() for c in line)]
    rows = generated[2:]
    assert rows and all(row in documented for row in rows), "rerun: python -m biomamba.plan --scales-table --gpus 8"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("b,L", [(2, 256), (1, 129)])
def test_mamba2_activation_terms_match_autograd(precision, checkpointing, b, L):
    """The Mamba-2 CPU terms (recomputed chunked SSD, composite gated norm) against what autograd saves."""
    cfg = MambaConfig(d_model=64, n_layer=2, vocab_size=512, scan_impl="fast", scan_chunk_size=64,
                      ssm_cfg={"layer": "Mamba2", "d_state": 16, "headdim": 16, "ngroups": 2})
    torch.manual_seed(0)
    model = MambaLM(cfg).init_weights(0)
    ids = torch.randint(0, cfg.vocab_size, (b, L))
    measured = _saved_bytes(model, ids, precision, checkpointing)
    predicted = activation_memory(cfg, micro_batch=b, seq=L, precision=precision, backend="cpu",
                                  activation_checkpointing=checkpointing)["saved"]
    assert abs(predicted - measured) <= 0.02 * measured, (predicted, measured)


def test_mamba2_inventory_and_tp_refusal():
    from biomamba.plan.scales import resolve_model

    _, cfg = resolve_model("mamba2-130m")
    assert local_param_count(cfg, 1) == 128_989_632
    with pytest.raises(ValueError, match="ngroups=1 is not divisible by 2"):
        local_param_count(cfg, 2)
