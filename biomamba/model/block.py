"""Pre-norm residual block around a Mamba mixer (mamba_ssm's ``Block``; the add + norm is :func:`biomamba.ops.add_rms_norm`)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from biomamba.ops import add_rms_norm

from .config import MambaConfig
from .mixer import LayerCache, MambaMixer
from .mixer2 import Mamba2Mixer


class RMSNorm(nn.Module):
    """RMSNorm computed in fp32 and cast back, like mamba_ssm's ``rms_norm_ref``."""

    def __init__(self, d: int, eps: float = 1e-5, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).to(x.dtype)


class MambaBlock(nn.Module):
    """``residual = x + residual; x = mixer(norm(residual))`` — returns (x, residual).

    Keeping the residual stream separate (and optionally in fp32) matches
    mamba_ssm numerically and keeps bf16 rounding out of the residual sum.
    """

    def __init__(self, config: MambaConfig, layer_idx: int, device=None, dtype=None):
        super().__init__()
        self.residual_in_fp32 = config.residual_in_fp32
        self.kernel_impl = config.kernel_impl
        self.norm = RMSNorm(config.d_model, config.norm_epsilon, device=device, dtype=dtype)
        mixer_cls = Mamba2Mixer if config.is_mamba2 else MambaMixer
        self.mixer = mixer_cls(config, layer_idx, device=device, dtype=dtype)

    def _pre(self, hidden_states, residual):
        # mamba_ssm's fused_add_norm (prenorm): one kernel with kernel_impl=triton (biomamba.ops.add_rms_norm)
        return add_rms_norm(hidden_states, residual, self.norm.weight, self.norm.eps, self.residual_in_fp32,
                            impl=self.kernel_impl)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor | None = None, cache: LayerCache | None = None):
        hidden_states, residual = self._pre(hidden_states, residual)
        return self.mixer(hidden_states, cache), residual

    def step(self, hidden_states: torch.Tensor, residual: torch.Tensor | None, cache: LayerCache):
        hidden_states, residual = self._pre(hidden_states, residual)
        return self.mixer.step(hidden_states, cache), residual
