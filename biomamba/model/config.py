"""Model configuration with mamba_ssm's field names, so its ``config.json`` loads as is."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from biomamba.config import Config, ConfigError

# Defaults of mamba_ssm.modules.mamba_simple.Mamba (Mamba-1); ``ssm_cfg`` entries override them.
SSM_DEFAULTS: dict[str, Any] = {
    "layer": "Mamba1",
    "d_state": 16,
    "d_conv": 4,
    "expand": 2,
    "dt_rank": "auto",
    "dt_min": 0.001,
    "dt_max": 0.1,
    "dt_init": "random",
    "dt_scale": 1.0,
    "dt_init_floor": 1e-4,
    "conv_bias": True,
    "bias": False,
    "use_fast_path": True,
}

# Defaults of mamba_ssm.modules.mamba2.Mamba2 (selected by ``ssm_cfg: {layer: Mamba2}``), same names.
# ``d_ssm`` (a gated-MLP share of d_inner) is accepted only as None: the published checkpoints have none.
SSM2_DEFAULTS: dict[str, Any] = {
    "layer": "Mamba2",
    "d_state": 128,
    "d_conv": 4,
    "conv_init": None,
    "expand": 2,
    "headdim": 64,
    "d_ssm": None,
    "ngroups": 1,
    "A_init_range": (1, 16),
    "D_has_hdim": False,
    "rmsnorm": True,
    "norm_before_gate": False,
    "dt_min": 0.001,
    "dt_max": 0.1,
    "dt_init_floor": 1e-4,
    "dt_limit": (0.0, float("inf")),
    "bias": False,
    "conv_bias": True,
    "chunk_size": 256,
    "use_mem_eff_path": True,
}
LAYERS = {"Mamba1": SSM_DEFAULTS, "Mamba2": SSM2_DEFAULTS}


@dataclass
class MambaConfig(Config):
    """A Mamba-1 (default) or Mamba-2 (``ssm_cfg.layer: Mamba2``) language model.

    Fields up to ``tie_embeddings`` are exactly mamba_ssm's ``MambaConfig``
    (``d_intermediate`` and ``attn_*`` must stay empty: Mamba-1 without MLP or
    attention layers is what the state-spaces/mamba checkpoints are).
    The rest are BioMamba additions with mamba_ssm's hard-coded values as defaults.
    """

    d_model: int = 768
    d_intermediate: int = 0
    n_layer: int = 24
    vocab_size: int = 50277
    ssm_cfg: dict = field(default_factory=dict)
    attn_layer_idx: list = field(default_factory=list)
    attn_cfg: dict = field(default_factory=dict)
    rms_norm: bool = True
    residual_in_fp32: bool = True
    fused_add_norm: bool = True
    pad_vocab_size_multiple: int = 8
    tie_embeddings: bool = True
    # --- BioMamba additions ---
    norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    rescale_prenorm_residual: bool = True
    n_residuals_per_layer: int = 1
    # Which selective-scan implementation the mixer calls (see biomamba.ops).
    scan_impl: Literal["auto", "fast", "reference", "cuda", "triton"] = "auto"
    # Norm / conv / decode-step kernels: torch references or Triton (see biomamba.ops.KERNEL_IMPLS).
    kernel_impl: Literal["auto", "torch", "triton"] = "auto"
    # Time steps per chunk of the fast PyTorch scan, of the Triton scan (a power of two there) and of the
    # PyTorch SSD: one fp32 state per chunk is saved for the backward (memory/speed trade-off; the result
    # does not depend on it). Mamba-2's ssm_cfg.chunk_size is the Triton SSD kernel's.
    scan_chunk_size: int = 128

    # ----- derived quantities -----
    def ssm(self, key: str) -> Any:
        return {**LAYERS.get(self.ssm_cfg.get("layer", "Mamba1"), SSM_DEFAULTS), **self.ssm_cfg}[key]

    @property
    def is_mamba2(self) -> bool:
        return self.ssm_cfg.get("layer", "Mamba1") == "Mamba2"

    @property
    def headdim(self) -> int:
        return int(self.ssm("headdim"))

    @property
    def nheads(self) -> int:
        return self.d_inner // self.headdim

    @property
    def ngroups(self) -> int:
        return int(self.ssm("ngroups"))

    @property
    def d_state(self) -> int:
        return int(self.ssm("d_state"))

    @property
    def d_conv(self) -> int:
        return int(self.ssm("d_conv"))

    @property
    def expand(self) -> int:
        return int(self.ssm("expand"))

    @property
    def d_inner(self) -> int:
        return int(self.expand * self.d_model)

    @property
    def dt_rank(self) -> int:
        r = self.ssm("dt_rank")
        return math.ceil(self.d_model / 16) if r == "auto" else int(r)

    @property
    def padded_vocab_size(self) -> int:
        m = self.pad_vocab_size_multiple
        return self.vocab_size if m <= 1 else ((self.vocab_size + m - 1) // m) * m

    def check(self) -> None:
        layer = self.ssm_cfg.get("layer", "Mamba1")
        if layer not in LAYERS:
            raise ConfigError(f"model.ssm_cfg.layer: {layer!r} is not supported; use one of {sorted(LAYERS)}")
        unknown = set(self.ssm_cfg) - set(LAYERS[layer])
        if unknown:
            raise ConfigError(
                f"model.ssm_cfg: unknown key(s) {sorted(unknown)} for layer {layer}; valid: {sorted(LAYERS[layer])}"
            )
        if self.d_intermediate != 0 or self.attn_layer_idx or self.attn_cfg:
            raise ConfigError(
                "model.d_intermediate/attn_layer_idx/attn_cfg: MLP and attention layers are not part of "
                "Mamba language models; set d_intermediate=0 and leave attn_* empty"
            )
        if self.is_mamba2:
            self._check_mamba2()
            return
        for name in ("d_model", "n_layer", "vocab_size", "pad_vocab_size_multiple", "scan_chunk_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}: must be >= 1, got {getattr(self, name)}")
        if not self.rms_norm:
            raise ConfigError("model.rms_norm: only RMSNorm is implemented (the public checkpoints use it); set true")
        if self.ssm("dt_init") not in ("random", "constant"):
            raise ConfigError("model.ssm_cfg.dt_init: must be 'random' or 'constant'")
        if not (0 < self.ssm("dt_min") <= self.ssm("dt_max")):
            raise ConfigError("model.ssm_cfg.dt_min/dt_max: need 0 < dt_min <= dt_max")

    def _check_mamba2(self) -> None:
        for name in ("d_model", "n_layer", "vocab_size", "pad_vocab_size_multiple", "scan_chunk_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}: must be >= 1, got {getattr(self, name)}")
        if not self.rms_norm:
            raise ConfigError("model.rms_norm: only RMSNorm is implemented (the public checkpoints use it); set true")
        if self.ssm("d_ssm") is not None:
            raise ConfigError("model.ssm_cfg.d_ssm: only None (SSM over all of d_inner) is implemented; remove it")
        if self.d_inner % self.headdim:
            raise ConfigError(
                f"model.ssm_cfg.headdim: expand*d_model={self.d_inner} is not divisible by headdim={self.headdim}"
            )
        if self.ngroups < 1 or self.nheads % self.ngroups:
            raise ConfigError(
                f"model.ssm_cfg.ngroups: {self.ngroups} must be >= 1 and divide the number of heads {self.nheads}"
            )
        if int(self.ssm("chunk_size")) < 1:
            raise ConfigError("model.ssm_cfg.chunk_size: must be >= 1")
        if not (0 < self.ssm("dt_min") <= self.ssm("dt_max")):
            raise ConfigError("model.ssm_cfg.dt_min/dt_max: need 0 < dt_min <= dt_max")
        lo, hi = (float(v) for v in self.ssm("dt_limit"))
        if not 0 <= lo < hi:
            raise ConfigError(f"model.ssm_cfg.dt_limit: need 0 <= low < high, got {self.ssm('dt_limit')}")
        a0, a1 = (float(v) for v in self.ssm("A_init_range"))
        if not 0 < a0 <= a1:
            raise ConfigError(f"model.ssm_cfg.A_init_range: need 0 < low <= high, got {self.ssm('A_init_range')}")

    def to_mamba_ssm_dict(self) -> dict:
        """The ``config.json`` mamba_ssm's ``MambaLMHeadModel.from_pretrained`` reads."""
        return {
            "d_model": self.d_model,
            "d_intermediate": 0,
            "n_layer": self.n_layer,
            "vocab_size": self.vocab_size,
            "ssm_cfg": dict(self.ssm_cfg),
            "attn_layer_idx": [],
            "attn_cfg": {},
            "rms_norm": self.rms_norm,
            "residual_in_fp32": self.residual_in_fp32,
            "fused_add_norm": self.fused_add_norm,
            "pad_vocab_size_multiple": self.pad_vocab_size_multiple,
            "tie_embeddings": self.tie_embeddings,
        }

    @classmethod
    def from_mamba_ssm_dict(cls, d: dict) -> "MambaConfig":
        """Strict: an unknown key is an error rather than silently ignored."""
        return cls.from_dict(dict(d)).validate()
