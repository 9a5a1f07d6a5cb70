"""Closed-form parameter count and FLOPs of a Mamba-1 or Mamba-2 LM (used by MFU logging and the memory planner).

FLOPs count multiply and add as 2 operations. Per token and layer, forward:

=================  ==================================
in_proj            2 · d_model · 2·d_inner
conv1d (depthwise) 2 · d_inner · d_conv
x_proj             2 · d_inner · (dt_rank + 2·d_state)
dt_proj            2 · dt_rank · d_inner
selective scan     9 · d_inner · d_state   (exp(Δ·A): 2, Δ·B·u: 2, state update: 2, C·h: 2, +1 softplus/bias share)
skip + gate        5 · d_inner             (D·u, +, silu(z) ≈ 2, ×)
out_proj           2 · d_inner · d_model
=================  ==================================

plus the LM head ``2 · d_model · padded_vocab`` per token (embedding lookups are free).
Training = 3 × forward (backward ≈ 2 × forward), the usual model-FLOPs convention
(as in PaLM/nanoGPT MFU): activation-checkpoint recomputation is NOT counted,
so MFU stays comparable whatever the memory settings.

Mamba-2 (``g`` = ngroups, ``h`` = nheads, ``conv_dim = d_inner + 2·g·d_state``), per token and layer:

=================  ==================================
in_proj            2 · d_model · (2·d_inner + 2·g·d_state + h)
conv1d (depthwise) 2 · conv_dim · d_conv
SSD scan           7 · d_inner · d_state   (Megatron-LM's count for its Mamba layer)
skip + gated norm  7 · d_inner             (D·x, +, x·silu(z) ≈ 3, square/scale ≈ 2)
out_proj           2 · d_inner · d_model
=================  ==================================

The SSD scan is counted as the recurrence's work, not as what the chunked algorithm executes
(its intra-chunk quadratic term grows with chunk_size): like recomputation, an implementation's
extra work does not count as model FLOPs, so MFU is not inflated by choosing larger chunks.
"""

from __future__ import annotations

from .config import MambaConfig


def _mamba2_layer_param_count(cfg: MambaConfig) -> int:
    d, di, n, k, g, h = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.ngroups, cfg.nheads
    bias, conv_dim = bool(cfg.ssm("bias")), di + 2 * g * n
    return (
        d * (2 * di + 2 * g * n + h) + ((2 * di + 2 * g * n + h) if bias else 0)  # in_proj
        + conv_dim * k + (conv_dim if cfg.ssm("conv_bias") else 0)  # conv1d
        + 2 * h  # dt_bias, A_log
        + (di if cfg.ssm("D_has_hdim") else h)  # D
        + (di if cfg.ssm("rmsnorm") else 0)  # gated norm
        + di * d + (d if bias else 0)  # out_proj
        + d  # norm
    )


def layer_param_count(cfg: MambaConfig) -> int:
    if cfg.is_mamba2:
        return _mamba2_layer_param_count(cfg)
    d, di, n, k, r = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.dt_rank
    bias = bool(cfg.ssm("bias"))
    conv_bias = bool(cfg.ssm("conv_bias"))
    return (
        d * 2 * di + (2 * di if bias else 0)  # in_proj
        + di * k + (di if conv_bias else 0)  # conv1d
        + di * (r + 2 * n)  # x_proj
        + r * di + di  # dt_proj (+bias)
        + di * n  # A_log
        + di  # D
        + di * d + (d if bias else 0)  # out_proj
        + d  # norm
    )


def param_count(cfg: MambaConfig) -> int:
    """Number of parameters of ``MambaLM(cfg)`` (a tied head counted once)."""
    emb = cfg.padded_vocab_size * cfg.d_model
    head = 0 if cfg.tie_embeddings else emb
    return emb + head + cfg.n_layer * layer_param_count(cfg) + cfg.d_model


def layer_forward_flops_per_token(cfg: MambaConfig) -> int:
    if cfg.is_mamba2:
        d, di, n, k, g, h = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.ngroups, cfg.nheads
        return 2 * d * (2 * di + 2 * g * n + h) + 2 * (di + 2 * g * n) * k + 7 * di * n + 7 * di + 2 * di * d
    d, di, n, k, r = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.dt_rank
    return 2 * d * 2 * di + 2 * di * k + 2 * di * (r + 2 * n) + 2 * r * di + 9 * di * n + 5 * di + 2 * di * d


def forward_flops_per_token(cfg: MambaConfig) -> int:
    return cfg.n_layer * layer_forward_flops_per_token(cfg) + 2 * cfg.d_model * cfg.padded_vocab_size


def flops_per_token(cfg: MambaConfig, training: bool = True) -> int:
    """Model FLOPs per token: 3× forward for a training step, 1× for inference.

    Mamba's cost is linear in sequence length, so unlike attention there is no
    seq_len term.
    """
    f = forward_flops_per_token(cfg)
    return 3 * f if training else f
