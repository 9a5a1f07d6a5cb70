"""The Mamba-1 mixer (selective SSM layer), parameter-compatible with ``mamba_ssm.modules.mamba_simple.Mamba``.

Shapes: ``d_inner = expand * d_model``; ``in_proj`` maps to ``[x; z]`` (each ``d_inner``),
``x_proj`` maps x to ``[dt (dt_rank); B (d_state); C (d_state)]``.

The forward uses only tensor shapes at run time (never ``self.d_inner``), so the
tensor-parallel step (:mod:`biomamba.parallel`) can swap projections for
Megatron-style parallel layers and slice the channel-wise parameters without
touching this file.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from biomamba.ops import causal_conv1d, causal_conv1d_update, selective_scan, selective_state_update

from .config import MambaConfig


class MambaMixer(nn.Module):
    def __init__(self, config: MambaConfig, layer_idx: int, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.config = config
        self.layer_idx = layer_idx
        d_model, d_inner, d_state = config.d_model, config.d_inner, config.d_state
        bias = bool(config.ssm("bias"))
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=bias, **fk)
        self.conv1d = nn.Conv1d(
            d_inner, d_inner, config.d_conv, groups=d_inner, padding=config.d_conv - 1,
            bias=bool(config.ssm("conv_bias")), **fk,
        )
        self.x_proj = nn.Linear(d_inner, config.dt_rank + 2 * d_state, bias=False, **fk)
        self.dt_proj = nn.Linear(config.dt_rank, d_inner, bias=True, **fk)
        # A_log and D stay float32 whatever the model dtype (the scan's stability depends on it).
        self.A_log = nn.Parameter(torch.empty(d_inner, d_state, device=device, dtype=torch.float32))
        self.D = nn.Parameter(torch.empty(d_inner, device=device, dtype=torch.float32))
        self.out_proj = nn.Linear(d_inner, d_model, bias=bias, **fk)
        # mamba_ssm marks A_log/D with _no_weight_decay and dt_proj.bias with _no_reinit; such
        # attributes do not survive meta-device materialization, so init_weights() and the
        # optimizer's grouping (biomamba.train.optim) select these parameters by name instead.

    @torch.no_grad()
    def init_ssm_parameters(self) -> None:
        """mamba_ssm's initialization of dt_proj, A_log and D."""
        cfg = self.config
        dt_rank, d_inner, d_state = cfg.dt_rank, self.D.shape[0], self.A_log.shape[1]
        std = dt_rank**-0.5 * cfg.ssm("dt_scale")
        if cfg.ssm("dt_init") == "constant":
            nn.init.constant_(self.dt_proj.weight, std)
        else:
            nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt_min, dt_max = cfg.ssm("dt_min"), cfg.ssm("dt_max")
        dt = torch.exp(
            torch.rand(d_inner, device=self.D.device, dtype=torch.float32) * (math.log(dt_max) - math.log(dt_min))
            + math.log(dt_min)
        ).clamp(min=cfg.ssm("dt_init_floor"))
        inv_dt = dt + torch.log(-torch.expm1(-dt))  # inverse of softplus
        self.dt_proj.bias.copy_(inv_dt)
        A = torch.arange(1, d_state + 1, dtype=torch.float32, device=self.A_log.device).repeat(d_inner, 1)
        self.A_log.copy_(torch.log(A))
        self.D.fill_(1.0)

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (batch, L, d_inner) -> dt (batch, L, d_inner) without bias, B and C (batch, L, d_state)."""
        x_dbl = self.x_proj(x)
        d_state = self.A_log.shape[1]
        dt_rank = x_dbl.shape[-1] - 2 * d_state
        dt, B, C = torch.split(x_dbl, [dt_rank, d_state, d_state], dim=-1)
        dt = F.linear(dt, self.dt_proj.weight)  # the bias is applied inside the scan, in fp32
        return dt, B, C

    def forward(self, hidden_states: torch.Tensor, cache: "LayerCache | None" = None) -> torch.Tensor:
        """hidden_states (batch, L, d_model) -> (batch, L, d_model).

        With ``cache`` (prefill for generation) the final conv and SSM states are written into it.
        """
        seqlen = hidden_states.shape[1]
        xz = self.in_proj(hidden_states)
        x, z = xz.chunk(2, dim=-1)
        x = x.transpose(1, 2)  # (batch, d_inner, L)
        z = z.transpose(1, 2)
        if cache is not None:
            width = self.conv1d.weight.shape[-1]
            cache.conv_state.copy_(F.pad(x, (width - seqlen, 0))[..., -width:] if seqlen < width else x[..., -width:])
        x = causal_conv1d(x, self.conv1d.weight.squeeze(1), self.conv1d.bias, activation="silu",
                          impl=self.config.kernel_impl)
        dt, B, C = self._project(x.transpose(1, 2))
        A = -torch.exp(self.A_log.float())
        # softplus(dt + dt_bias) and the SiLU gate by z happen inside the scan kernel, not as separate kernels
        out = selective_scan(
            x, dt.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2),
            self.D.float(), z=z, delta_bias=self.dt_proj.bias.float(), delta_softplus=True,
            return_last_state=cache is not None, impl=self.config.scan_impl, chunk_size=self.config.scan_chunk_size,
        )
        if cache is not None:
            out, last_state = out
            cache.ssm_state.copy_(last_state)
        return self.out_proj(out.transpose(1, 2))

    def step(self, hidden_states: torch.Tensor, cache: "LayerCache") -> torch.Tensor:
        """One token: hidden_states (batch, 1, d_model) -> (batch, 1, d_model); O(1) in sequence length."""
        xz = self.in_proj(hidden_states.squeeze(1))
        x, z = xz.chunk(2, dim=-1)  # (batch, d_inner)
        impl = self.config.kernel_impl  # triton on CUDA: two fused kernels instead of ~20 tiny ones per layer
        x = causal_conv1d_update(cache.conv_state, x, self.conv1d.weight.squeeze(1), self.conv1d.bias, "silu", impl=impl)
        dt, B, C = self._project(x)
        A = -torch.exp(self.A_log.float())
        y = selective_state_update(cache.ssm_state, x, dt, A, B, C, self.D.float(), z=z,
                                   dt_bias=self.dt_proj.bias.float(), dt_softplus=True, impl=impl)
        return self.out_proj(y).unsqueeze(1)


class LayerCache:
    """Recurrent state of one mixer: the last ``d_conv`` conv inputs and the SSM state (fp32)."""

    def __init__(self, batch: int, mixer: MambaMixer, dtype: torch.dtype):
        d_inner, width = mixer.conv1d.weight.shape[0], mixer.conv1d.weight.shape[-1]
        dev = mixer.D.device
        self.conv_state = torch.zeros(batch, d_inner, width, device=dev, dtype=dtype)
        self.ssm_state = torch.zeros(batch, d_inner, mixer.A_log.shape[1], device=dev, dtype=torch.float32)
