"""Every parameter tensor of ``MambaLM(cfg)`` with its size on one tensor-parallel rank.

The planner needs more than a total: ZeRO-3 keeps tensors of at most
``param_persistence_threshold`` elements whole on every rank, and tensor
parallelism splits some tensors and replicates others (the norms). Which is
which comes from :func:`biomamba.parallel.tp_layout.rule`, the same table that
shards a model and its checkpoints, so the plan cannot drift from the engine.
The full-model total is checked against :func:`biomamba.model.flops.param_count`.
"""

from __future__ import annotations

from dataclasses import dataclass

from biomamba.model.config import MambaConfig
from biomamba.model.flops import param_count
from biomamba.parallel.tp_layout import REPLICATED, rule, split_problems


@dataclass(frozen=True)
class ParamTensor:
    name: str
    numel: int  # whole-model elements
    local_numel: int  # elements on one TP rank


def check_tp(cfg: MambaConfig, tp: int) -> None:
    """The same divisibility rules as ``TrainConfig.check`` (and the sharding code)."""
    if tp < 1:
        raise ValueError(f"tensor parallel degree must be >= 1, got {tp}")
    problems = split_problems(cfg, tp)
    if problems:
        raise ValueError(
            f"TP={tp} cannot split the model: {'; '.join(problems)}; "
            f"TP degrees that split the mixer and the padded vocabulary: {valid_tp_degrees(cfg)}"
        )
    if cfg.padded_vocab_size % tp:
        raise ValueError(
            f"TP={tp} does not divide the padded vocabulary {cfg.padded_vocab_size}; "
            f"set pad_vocab_size_multiple to a multiple of {tp} or pick one of {valid_tp_degrees(cfg)}"
        )


def valid_tp_degrees(cfg: MambaConfig, limit: int = 64) -> list[int]:
    return [t for t in range(1, limit + 1) if not split_problems(cfg, t) and cfg.padded_vocab_size % t == 0]


def _full_shapes(cfg: MambaConfig) -> list[tuple[str, int]]:
    """(name, numel) in mamba_ssm's naming, tied head listed once (as the embedding)."""
    if cfg.is_mamba2:  # read off the model built on the meta device (no memory, cannot drift)
        import torch

        from biomamba.model import MambaLM

        with torch.device("meta"):
            model = MambaLM(cfg)
        return [(n, p.numel()) for n, p in model.named_parameters()]  # a tied head is listed once
    d, di, n, k, r = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.dt_rank
    bias, conv_bias = bool(cfg.ssm("bias")), bool(cfg.ssm("conv_bias"))
    out = [("backbone.embedding.weight", cfg.padded_vocab_size * d)]
    for i in range(cfg.n_layer):
        p = f"backbone.layers.{i}."
        layer = [
            ("mixer.in_proj.weight", 2 * di * d),
            ("mixer.in_proj.bias", 2 * di if bias else 0),
            ("mixer.conv1d.weight", di * k),
            ("mixer.conv1d.bias", di if conv_bias else 0),
            ("mixer.x_proj.weight", (r + 2 * n) * di),
            ("mixer.dt_proj.weight", di * r),
            ("mixer.dt_proj.bias", di),
            ("mixer.A_log", di * n),
            ("mixer.D", di),
            ("mixer.out_proj.weight", d * di),
            ("mixer.out_proj.bias", d if bias else 0),
            ("norm.weight", d),
        ]
        out += [(p + name, numel) for name, numel in layer if numel]
    out.append(("backbone.norm_f.weight", d))
    if not cfg.tie_embeddings:
        out.append(("lm_head.weight", cfg.padded_vocab_size * d))
    return out


def inventory(cfg: MambaConfig, tp: int = 1) -> list[ParamTensor]:
    """Parameter tensors with their per-TP-rank sizes (split tensors: numel / tp; replicated: numel)."""
    check_tp(cfg, tp)
    items = [ParamTensor(name, numel, numel if rule(name) == REPLICATED else numel // tp)
             for name, numel in _full_shapes(cfg)]
    total = sum(p.numel for p in items)
    if total != param_count(cfg):  # a new parameter in the model must be added here too
        raise AssertionError(f"planner inventory has {total} parameters, param_count says {param_count(cfg)}")
    return items


def local_param_count(cfg: MambaConfig, tp: int = 1) -> int:
    return sum(p.local_numel for p in inventory(cfg, tp))
