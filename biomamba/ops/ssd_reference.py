"""Mamba-2's SSD (state-space duality) scan as the plain sequential recurrence, differentiated by autograd.

Same arguments and semantics as mamba_ssm's ``mamba_chunk_scan_combined`` (``chunk_size`` is
accepted and ignored: the recurrence has no chunks). Per head ``h`` (group ``g = h // (H/G)``):

    dt_t  = clamp(softplus(dt_t + dt_bias), dt_limit)          (bias/softplus optional)
    s_t   = exp(dt_t · A_h) · s_{t-1} + dt_t · x_t ⊗ B_{t,g}    s: (headdim, d_state)
    y_t   = s_t · C_{t,g} + D_h · x_t ;  y_t *= silu(z_t) when z is given

This is the ground truth the chunked implementation (:mod:`.ssd_chunked`) is tested against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discretize_dt(dt, dt_bias=None, dt_softplus=False, dt_limit=(0.0, float("inf"))):
    """The time step every SSD implementation uses: bias, softplus, then clamp to ``dt_limit``."""
    dt = dt.float() if dt.dtype in (torch.float16, torch.bfloat16) else dt
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    lo, hi = dt_limit
    if lo > 0.0 or hi != float("inf"):
        dt = dt.clamp(min=lo, max=hi)
    return dt


def ssd_reference(
    x, dt, A, B, C, chunk_size=None, D=None, z=None, dt_bias=None, initial_states=None,
    dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False,
):
    """x (b, L, H, P), dt (b, L, H), A (H), B/C (b, L, G, N), D (H) or (H, P), z like x,
    initial_states (b, H, P, N) -> y like x (and the final state (b, H, P, N), fp32 or fp64)."""
    batch, length, nheads, headdim = x.shape
    ngroups, dstate = B.shape[2], B.shape[3]
    cdt = torch.promote_types(x.dtype, torch.float32)
    dt = discretize_dt(dt, dt_bias, dt_softplus, dt_limit).to(cdt)
    rep = nheads // ngroups
    Bh = B.to(cdt).repeat_interleave(rep, dim=2)  # (b, L, H, N)
    Ch = C.to(cdt).repeat_interleave(rep, dim=2)
    xc, Ac = x.to(cdt), A.to(cdt)
    if initial_states is None:
        state = x.new_zeros(batch, nheads, headdim, dstate, dtype=cdt)
    else:
        state = initial_states.to(cdt)
    ys = []
    for t in range(length):
        dA = torch.exp(dt[:, t] * Ac)  # (b, H)
        dBx = (dt[:, t, :, None] * xc[:, t])[..., None] * Bh[:, t, :, None, :]  # (b, H, P, N)
        state = state * dA[..., None, None] + dBx
        ys.append(torch.einsum("bhpn,bhn->bhp", state, Ch[:, t]))
    y = torch.stack(ys, dim=1) if ys else xc.new_zeros(batch, 0, nheads, headdim)
    if D is not None:
        y = y + xc * (D.to(cdt)[:, None] if D.dim() == 1 else D.to(cdt))
    if z is not None:
        y = y * F.silu(z.to(cdt))
    y = y.to(x.dtype)
    return (y, state) if return_final_states else y
