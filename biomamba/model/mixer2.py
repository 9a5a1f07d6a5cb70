"""The Mamba-2 mixer (SSD layer), parameter-compatible with ``mamba_ssm.modules.mamba2.Mamba2``.

``in_proj`` maps d_model to ``[z (d_inner); x (d_inner); B (ngroups·d_state); C (ngroups·d_state);
dt (nheads)]``; the depthwise ``conv1d`` runs over ``xBC``; ``dt_bias``, ``A_log`` and ``D`` are per
head (``D`` per channel with ``D_has_hdim``); ``norm`` is the gated RMSNorm over groups of
``d_inner / ngroups`` channels; ``out_proj`` maps back to d_model.

The forward derives every size from tensor shapes at run time (``nheads`` from ``A_log``, groups
from the norm's weight), so tensor parallelism (:mod:`biomamba.parallel`) can swap the projections
for Megatron-style parallel layers and slice the per-channel/per-head parameters without touching this file.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from biomamba.ops import causal_conv1d, gated_rmsnorm, resolve_ssd_impl, ssd_scan

from .config import MambaConfig


class GatedRMSNorm(nn.Module):
    """mamba_ssm's ``layernorm_gated.RMSNorm`` (eps 1e-5, no bias); ``group_size`` channels per group."""

    def __init__(self, d: int, group_size: int, norm_before_gate: bool, eps: float = 1e-5, device=None, dtype=None):
        super().__init__()
        self.eps, self.group_size, self.norm_before_gate = eps, group_size, norm_before_gate
        self.weight = nn.Parameter(torch.ones(d, device=device, dtype=dtype))
        self.impl = "auto"

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return gated_rmsnorm(x, self.weight, z, self.eps, self.group_size, self.norm_before_gate, self.impl)


class Mamba2Mixer(nn.Module):
    def __init__(self, config: MambaConfig, layer_idx: int, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.config = config
        self.layer_idx = layer_idx
        d_model, d_inner, d_state = config.d_model, config.d_inner, config.d_state
        ng, nh = config.ngroups, config.nheads
        self.headdim = config.headdim
        self.d_state = d_state
        bias = bool(config.ssm("bias"))
        self.in_proj = nn.Linear(d_model, 2 * d_inner + 2 * ng * d_state + nh, bias=bias, **fk)
        conv_dim = d_inner + 2 * ng * d_state
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, config.d_conv, groups=conv_dim, padding=config.d_conv - 1,
                                bias=bool(config.ssm("conv_bias")), **fk)
        # dt_bias, A_log and D stay float32 whatever the model dtype, as in mamba_ssm (created fp32).
        self.dt_bias = nn.Parameter(torch.empty(nh, device=device, dtype=torch.float32))
        self.A_log = nn.Parameter(torch.empty(nh, device=device, dtype=torch.float32))
        d_D = d_inner if config.ssm("D_has_hdim") else nh
        self.D = nn.Parameter(torch.empty(d_D, device=device, dtype=torch.float32))
        if config.ssm("rmsnorm"):
            self.norm = GatedRMSNorm(d_inner, d_inner // ng, bool(config.ssm("norm_before_gate")), **fk)
            self.norm.impl = config.scan_impl
        self.out_proj = nn.Linear(d_inner, d_model, bias=bias, **fk)

    @torch.no_grad()
    def init_ssm_parameters(self) -> None:
        """mamba_ssm's ``Mamba2.__init__`` initialization of conv1d (``conv_init``), dt_bias, A_log and D."""
        cfg = self.config
        if cfg.ssm("conv_init") is not None:
            nn.init.uniform_(self.conv1d.weight, -cfg.ssm("conv_init"), cfg.ssm("conv_init"))
        nh, dev = self.A_log.shape[0], self.A_log.device
        dt_min, dt_max = cfg.ssm("dt_min"), cfg.ssm("dt_max")
        dt = torch.exp(
            torch.rand(nh, device=dev, dtype=torch.float32) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        ).clamp(min=cfg.ssm("dt_init_floor"))
        self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus
        self.A_log.copy_(torch.log(torch.empty(nh, device=dev, dtype=torch.float32).uniform_(*cfg.ssm("A_init_range"))))
        self.D.fill_(1.0)
        if hasattr(self, "norm"):
            self.norm.reset_parameters()

    def _sizes(self, zxbcdt: torch.Tensor) -> tuple[int, int, int]:
        """(d_inner, ngroups·d_state, nheads) on this rank, from the parameters' shapes."""
        nh = self.A_log.shape[0]
        d_inner = nh * self.headdim
        return d_inner, (self.conv1d.weight.shape[0] - d_inner) // 2, nh

    def _ssd_args(self, xBC: torch.Tensor, d_inner: int, gn: int):
        x, B, C = torch.split(xBC, [d_inner, gn, gn], dim=-1)
        g = gn // self.d_state
        x = x.unflatten(-1, (-1, self.headdim))
        return x, B.unflatten(-1, (g, self.d_state)), C.unflatten(-1, (g, self.d_state))

    def _D(self):
        return self.D.view(-1, self.headdim) if self.D.shape[0] != self.A_log.shape[0] else self.D

    def forward(self, hidden_states: torch.Tensor, cache: "Mamba2Cache | None" = None) -> torch.Tensor:
        """hidden_states (batch, L, d_model) -> (batch, L, d_model); with ``cache`` (prefill) the final
        conv and SSM states are written into it."""
        if cache is None and torch.is_grad_enabled() and resolve_ssd_impl(self.config.scan_impl, hidden_states) != "cuda":
            # Memory: under autograd the PyTorch SSD keeps every chunk's (Q, Q) decay masks and einsum
            # operands, and the composite gated norm five (L, d_inner) fp32 tensors, in every layer
            # (~10 GB at 130m/2048). Recomputing the core (conv1d → SSD → gated norm) in the backward
            # keeps only its input, in_proj's output (2e+2gn+h wide), and out_proj keeps its own input,
            # for one extra forward of the core; values and gradients are identical. The projections stay
            # outside the recomputation: re-running their GEMMs (most of the mixer's FLOPs) cost ~10 % of a
            # 130m fwd+bwd step on CPU, for ~1 GB at 130m/2048 without block checkpointing.
            return self.out_proj(checkpoint(self._core, self.in_proj(hidden_states), None, use_reentrant=False))
        return self.out_proj(self._core(self.in_proj(hidden_states), cache))

    def _core(self, zxbcdt: torch.Tensor, cache: "Mamba2Cache | None") -> torch.Tensor:
        """in_proj output -> out_proj input (conv1d, SiLU, SSD, gated norm)."""
        cfg = self.config
        d_inner, gn, nh = self._sizes(zxbcdt)
        z, xBC, dt = torch.split(zxbcdt, [d_inner, d_inner + 2 * gn, nh], dim=-1)
        xBC = xBC.transpose(1, 2)
        if cache is not None:
            width = self.conv1d.weight.shape[-1]
            cache.conv_state.copy_(F.pad(xBC, (width - xBC.shape[-1], 0)))  # pads or truncates to width
        xBC = causal_conv1d(xBC, self.conv1d.weight.squeeze(1), self.conv1d.bias, activation="silu").transpose(1, 2)
        x, B, C = self._ssd_args(xBC, d_inner, gn)
        gated = not hasattr(self, "norm")  # without the norm, the scan applies silu(z) itself
        out = ssd_scan(
            x, dt, -torch.exp(self.A_log.float()), B, C, int(cfg.ssm("chunk_size")), D=self._D(),
            z=z.unflatten(-1, (-1, self.headdim)) if gated else None, dt_bias=self.dt_bias, dt_softplus=True,
            dt_limit=tuple(cfg.ssm("dt_limit")), return_final_states=cache is not None,
            impl=cfg.scan_impl, torch_chunk_size=cfg.scan_chunk_size,
        )
        if cache is not None:
            out, last = out
            cache.ssm_state.copy_(last)
        y = out.flatten(-2)
        return self.norm(y, z) if hasattr(self, "norm") else y

    def step(self, hidden_states: torch.Tensor, cache: "Mamba2Cache") -> torch.Tensor:
        """One token: (batch, 1, d_model) -> (batch, 1, d_model); O(1) in sequence length."""
        zxbcdt = self.in_proj(hidden_states.squeeze(1))
        d_inner, gn, nh = self._sizes(zxbcdt)
        z, xBC, dt = torch.split(zxbcdt, [d_inner, d_inner + 2 * gn, nh], dim=-1)
        conv_state = cache.conv_state
        conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
        conv_state[:, :, -1] = xBC
        xBC = (conv_state * self.conv1d.weight.squeeze(1)).sum(-1)
        if self.conv1d.bias is not None:
            xBC = xBC + self.conv1d.bias
        xBC = F.silu(xBC).to(hidden_states.dtype)
        x, B, C = self._ssd_args(xBC, d_inner, gn)  # x (b, H, P); B, C (b, G, N)
        rep = nh // B.shape[1]
        dt = F.softplus(dt.float() + self.dt_bias.float())
        lo, hi = self.config.ssm("dt_limit")
        if lo > 0.0 or hi != float("inf"):
            dt = dt.clamp(min=lo, max=hi)
        dA = torch.exp(dt * -torch.exp(self.A_log.float()))  # (b, H)
        Bh = B.float().repeat_interleave(rep, dim=1)  # (b, H, N)
        Ch = C.float().repeat_interleave(rep, dim=1)
        xf = x.float()
        cache.ssm_state.copy_(cache.ssm_state * dA[..., None, None] + (dt[..., None] * xf)[..., None] * Bh[:, :, None])
        y = torch.einsum("bhpn,bhn->bhp", cache.ssm_state, Ch)
        D = self._D().float()
        y = y + xf * (D[:, None] if D.dim() == 1 else D)
        gated = not hasattr(self, "norm")
        if gated:
            y = y * F.silu(z.float().unflatten(-1, (-1, self.headdim)))
        y = y.flatten(-2).to(hidden_states.dtype)
        if not gated:
            y = self.norm(y, z)
        return self.out_proj(y).unsqueeze(1)


class Mamba2Cache:
    """Recurrent state of one Mamba-2 mixer: the last ``d_conv`` xBC inputs and the SSM state (fp32)."""

    def __init__(self, batch: int, mixer: Mamba2Mixer, dtype: torch.dtype):
        conv_dim, width = mixer.conv1d.weight.shape[0], mixer.conv1d.weight.shape[-1]
        dev = mixer.A_log.device
        self.conv_state = torch.zeros(batch, conv_dim, width, device=dev, dtype=dtype)
        self.ssm_state = torch.zeros(batch, mixer.A_log.shape[0], mixer.headdim, mixer.d_state, device=dev,
                                     dtype=torch.float32)
