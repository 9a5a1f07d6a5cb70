"""One-token (decode) updates in PyTorch: the references of :mod:`.conv_triton`'s update and :mod:`.step_triton`.

Both update their state in place, as mamba_ssm's ``causal_conv1d_update`` / ``selective_state_update`` do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def causal_conv1d_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str | None = "silu"):
    """Depthwise causal convolution over time: ``x`` (batch, dim, L), ``weight`` (dim, width)."""
    width = weight.shape[-1]
    y = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(y) if activation == "silu" else y


def causal_conv1d_update_ref(conv_state, x, weight, bias=None, activation: str | None = "silu"):
    """conv_state (batch, dim, width) shifted left in place with x (batch, dim) appended; -> (batch, dim)."""
    conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
    conv_state[:, :, -1] = x
    y = (conv_state * weight).sum(-1)
    if bias is not None:
        y = y + bias
    return F.silu(y) if activation == "silu" else y


def selective_state_update_ref(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False):
    """One step of the selective SSM, in fp32; ``state`` (batch, dim, n) fp32 is updated in place.

    x, dt, z (batch, dim); A (dim, n); B, C (batch, n); D, dt_bias (dim,). -> y (batch, dim) in x's dtype.
    """
    dt = dt.float()
    if dt_bias is not None:
        dt = dt + dt_bias.float()
    if dt_softplus:
        dt = F.softplus(dt)
    dA = torch.exp(dt.unsqueeze(-1) * A.float())
    dBx = (dt * x.float()).unsqueeze(-1) * B.float().unsqueeze(1)
    state.copy_(state * dA + dBx)
    y = (state * C.float().unsqueeze(1)).sum(-1)
    if D is not None:
        y = y + D.float() * x.float()
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(x.dtype)
