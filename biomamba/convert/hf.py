"""Mapping between BioMamba/mamba_ssm and Hugging Face ``MambaForCausalLM`` (config and state-dict keys).

The only key that differs: ``backbone.embedding.weight`` (ours, mamba_ssm) vs
``backbone.embeddings.weight`` (HF). HF's ``vocab_size`` is the padded vocabulary;
we record the unpadded size (when it differs) as the extra config attribute
``biomamba_vocab_size`` so a round trip restores it exactly.

``rescale_prenorm_residual`` is written as ``false`` and our value kept as
``biomamba_rescale_prenorm_residual``: it only matters when initializing a new model,
and transformers 5 (``MambaPreTrainedModel._init_weights``) divides ``out_proj.weight``
by sqrt(n_layer) in place *after* ``from_pretrained`` loaded it when the flag is true,
silently corrupting a trained model (found by biomamba-convert --verify).
"""

from __future__ import annotations

from biomamba.model import MambaConfig

OURS_EMB, HF_EMB = "backbone.embedding.weight", "backbone.embeddings.weight"


def hf_state_dict_from_ours(sd: dict) -> dict:
    return {(HF_EMB if k == OURS_EMB else k): v for k, v in sd.items()}


def ours_state_dict_from_hf(sd: dict) -> dict:
    out = {(OURS_EMB if k == HF_EMB else k): v for k, v in sd.items()}
    if "lm_head.weight" not in out and OURS_EMB in out:  # tied heads are often not serialized
        out["lm_head.weight"] = out[OURS_EMB]
    return out


def hf_config_from_ours(cfg: MambaConfig, *, bos_token_id=None, eos_token_id=None, pad_token_id=None):
    """HF ``MambaConfig`` (Mamba-1) or ``Mamba2Config`` (Mamba-2, :mod:`.hf_mamba2`)."""
    if cfg.is_mamba2:
        from .hf_mamba2 import hf2_config_from_ours

        return hf2_config_from_ours(cfg, bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id)
    from transformers import MambaConfig as HFMambaConfig

    hf = HFMambaConfig(
        vocab_size=cfg.padded_vocab_size,
        hidden_size=cfg.d_model,
        state_size=cfg.d_state,
        num_hidden_layers=cfg.n_layer,
        layer_norm_epsilon=cfg.norm_epsilon,
        expand=cfg.expand,
        conv_kernel=cfg.d_conv,
        use_bias=bool(cfg.ssm("bias")),
        use_conv_bias=bool(cfg.ssm("conv_bias")),
        hidden_act="silu",
        initializer_range=cfg.initializer_range,
        residual_in_fp32=cfg.residual_in_fp32,
        time_step_rank=cfg.dt_rank,
        time_step_scale=cfg.ssm("dt_scale"),
        time_step_min=cfg.ssm("dt_min"),
        time_step_max=cfg.ssm("dt_max"),
        time_step_init_scheme=cfg.ssm("dt_init"),
        time_step_floor=cfg.ssm("dt_init_floor"),
        rescale_prenorm_residual=False,  # see the module docstring
        tie_word_embeddings=cfg.tie_embeddings,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        use_cache=True,
    )
    # Only what HF's own fields cannot express, so a plain HF config round-trips unchanged.
    if cfg.vocab_size != cfg.padded_vocab_size:
        hf.biomamba_vocab_size = cfg.vocab_size
    if cfg.rescale_prenorm_residual:
        hf.biomamba_rescale_prenorm_residual = True
    return hf


def ours_config_from_hf(hf) -> MambaConfig:
    """Our config from an HF ``MambaConfig`` or ``Mamba2Config`` (object or ``config.json`` dict)."""
    get = (lambda k, d=None: hf.get(k, d)) if isinstance(hf, dict) else (lambda k, d=None: getattr(hf, k, d))
    if get("model_type") == "mamba2":
        from .hf_mamba2 import ours_config_from_hf2

        return ours_config_from_hf2(get)
    if get("model_type", "mamba") not in ("mamba", None):
        raise ValueError(f"not a Mamba-1 config: model_type={get('model_type')!r}")
    d_model = int(get("hidden_size"))
    hf_vocab = int(get("vocab_size"))
    vocab = int(get("biomamba_vocab_size") or hf_vocab)
    dt_rank = get("time_step_rank", "auto")
    ssm_cfg = {
        "d_state": int(get("state_size", 16)),
        "d_conv": int(get("conv_kernel", 4)),
        "expand": int(get("expand", 2)),
        "dt_rank": "auto" if dt_rank in ("auto", -(-d_model // 16)) else int(dt_rank),
        "bias": bool(get("use_bias", False)),
        "conv_bias": bool(get("use_conv_bias", True)),
        "dt_min": float(get("time_step_min", 0.001)),
        "dt_max": float(get("time_step_max", 0.1)),
        "dt_init": get("time_step_init_scheme", "random"),
        "dt_scale": float(get("time_step_scale", 1.0)),
        "dt_init_floor": float(get("time_step_floor", 1e-4)),
    }
    if get("hidden_act", "silu") != "silu":
        raise ValueError(f"hidden_act={get('hidden_act')!r}: Mamba-1 uses silu")
    cfg = MambaConfig(
        d_model=d_model,
        n_layer=int(get("num_hidden_layers")),
        vocab_size=vocab,
        ssm_cfg=ssm_cfg,
        residual_in_fp32=bool(get("residual_in_fp32", True)),
        pad_vocab_size_multiple=8 if hf_vocab % 8 == 0 else 1,
        tie_embeddings=bool(get("tie_word_embeddings", True)),
        norm_epsilon=float(get("layer_norm_epsilon", 1e-5)),
        initializer_range=float(get("initializer_range", 0.1)),
        rescale_prenorm_residual=bool(get("biomamba_rescale_prenorm_residual", get("rescale_prenorm_residual", False))),
    )
    if cfg.padded_vocab_size != hf_vocab:
        cfg.pad_vocab_size_multiple = 1
        cfg.vocab_size = hf_vocab
    return cfg.validate()
