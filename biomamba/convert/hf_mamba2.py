"""Mapping between a BioMamba/mamba_ssm Mamba-2 config and transformers' ``Mamba2Config``.

State-dict keys are those of Mamba-1 (:mod:`.hf`): only ``backbone.embedding(s).weight`` differs.
transformers' ``Mamba2Mixer`` has no ``D_has_hdim``, ``rmsnorm: false`` or ``norm_before_gate: true``
and uses ``layer_norm_epsilon`` for both its block norms and the gated norm (mamba_ssm fixes the
latter at 1e-5), so models using those are refused rather than exported with other numerics.
As for Mamba-1, ``rescale_prenorm_residual`` is written false (HF would rescale loaded weights).
"""

from __future__ import annotations

from biomamba.model import MambaConfig


def hf2_config_from_ours(cfg: MambaConfig, *, bos_token_id=None, eos_token_id=None, pad_token_id=None):
    from transformers import Mamba2Config

    bad = [k for k, ok in (("D_has_hdim", not cfg.ssm("D_has_hdim")), ("rmsnorm", cfg.ssm("rmsnorm")),
                           ("norm_before_gate", not cfg.ssm("norm_before_gate"))) if not ok]
    if bad or cfg.norm_epsilon != 1e-5:
        raise ValueError(f"transformers' Mamba2 cannot express model.ssm_cfg {bad} / norm_epsilon={cfg.norm_epsilon} "
                         "(needs D_has_hdim false, rmsnorm true, norm_before_gate false, norm_epsilon 1e-5)")
    hf = Mamba2Config(
        num_heads=cfg.nheads,
        head_dim=cfg.headdim,
        vocab_size=cfg.padded_vocab_size,
        hidden_size=cfg.d_model,
        state_size=cfg.d_state,
        num_hidden_layers=cfg.n_layer,
        layer_norm_epsilon=cfg.norm_epsilon,
        expand=cfg.expand,
        conv_kernel=cfg.d_conv,
        n_groups=cfg.ngroups,
        use_bias=bool(cfg.ssm("bias")),
        use_conv_bias=bool(cfg.ssm("conv_bias")),
        hidden_act="silu",
        initializer_range=cfg.initializer_range,
        residual_in_fp32=cfg.residual_in_fp32,
        time_step_min=cfg.ssm("dt_min"),
        time_step_max=cfg.ssm("dt_max"),
        time_step_floor=cfg.ssm("dt_init_floor"),
        time_step_limit=tuple(float(v) for v in cfg.ssm("dt_limit")),
        rescale_prenorm_residual=False,
        chunk_size=int(cfg.ssm("chunk_size")),
        tie_word_embeddings=cfg.tie_embeddings,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        use_cache=True,
    )
    if cfg.vocab_size != cfg.padded_vocab_size:
        hf.biomamba_vocab_size = cfg.vocab_size
    if cfg.rescale_prenorm_residual:
        hf.biomamba_rescale_prenorm_residual = True
    return hf


def _float(v) -> float:
    """A float from a config value; transformers writes inf to config.json as ``{"__float__": "Infinity"}``."""
    return float(v["__float__"]) if isinstance(v, dict) and "__float__" in v else float(v)


def ours_config_from_hf2(get) -> MambaConfig:
    """Our config from an HF ``Mamba2Config``; ``get(key, default)`` reads the object or ``config.json`` dict."""
    d_model, expand = int(get("hidden_size")), int(get("expand", 2))
    heads, headdim = int(get("num_heads")), int(get("head_dim", 64))
    if heads * headdim != expand * d_model:
        raise ValueError(f"num_heads*head_dim={heads * headdim} != expand*hidden_size={expand * d_model}")
    if get("hidden_act", "silu") != "silu":
        raise ValueError(f"hidden_act={get('hidden_act')!r}: Mamba-2 uses silu")
    hf_vocab = int(get("vocab_size"))
    limit = get("time_step_limit", (0.0, float("inf")))
    ssm_cfg = {
        "layer": "Mamba2",
        "d_state": int(get("state_size", 128)),
        "d_conv": int(get("conv_kernel", 4)),
        "expand": expand,
        "headdim": headdim,
        "ngroups": int(get("n_groups", 1)),
        "bias": bool(get("use_bias", False)),
        "conv_bias": bool(get("use_conv_bias", True)),
        "dt_min": float(get("time_step_min", 0.001)),
        "dt_max": float(get("time_step_max", 0.1)),
        "dt_init_floor": float(get("time_step_floor", 1e-4)),
        "chunk_size": int(get("chunk_size", 256)),
    }
    if tuple(_float(v) for v in limit) != (0.0, float("inf")):
        ssm_cfg["dt_limit"] = tuple(_float(v) for v in limit)
    cfg = MambaConfig(
        d_model=d_model,
        n_layer=int(get("num_hidden_layers")),
        vocab_size=int(get("biomamba_vocab_size") or hf_vocab),
        ssm_cfg=ssm_cfg,
        residual_in_fp32=bool(get("residual_in_fp32", True)),
        pad_vocab_size_multiple=16 if hf_vocab % 16 == 0 else (8 if hf_vocab % 8 == 0 else 1),
        tie_embeddings=bool(get("tie_word_embeddings", True)),
        norm_epsilon=float(get("layer_norm_epsilon", 1e-5)),
        initializer_range=float(get("initializer_range", 0.1)),
        rescale_prenorm_residual=bool(get("biomamba_rescale_prenorm_residual", get("rescale_prenorm_residual", False))),
    )
    if cfg.padded_vocab_size != hf_vocab:
        cfg.pad_vocab_size_multiple = 1
        cfg.vocab_size = hf_vocab
    return cfg.validate()
