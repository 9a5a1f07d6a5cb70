"""Plain sequential selective scan: the readable reference the fast paths are tested against.

Same argument shapes and semantics as ``mamba_ssm.ops.selective_scan_interface.selective_scan_ref``:

* ``u``, ``delta``, ``z``: ``(batch, dim, length)``
* ``A``: ``(dim, dstate)`` (real)
* ``B``, ``C``: ``(dim, dstate)`` (constant), ``(batch, dstate, length)`` (variable, as in Mamba)
  or ``(batch, groups, dstate, length)`` (grouped)
* ``D``, ``delta_bias``: ``(dim,)``

It computes in float32 (float64 when ``u`` is float64, so tests can check the
fast path to 1e-10) and returns ``out`` in ``u``'s dtype, plus the final state
``(batch, dim, dstate)`` when ``return_last_state``. Autograd differentiates it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def compute_dtype(u: torch.Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def expand_bc(X: torch.Tensor, batch: int, dim: int) -> torch.Tensor:
    """B or C as ``(batch|1, dim|1, dstate, length|1)`` broadcastable against the state."""
    if X.dim() == 2:  # (dim, dstate): constant over time and batch
        return X[None, :, :, None]
    if X.dim() == 3:  # (batch, dstate, length): shared by all channels
        return X[:, None]
    if X.dim() == 4:  # (batch, groups, dstate, length): each group serves dim/groups channels
        groups = X.shape[1]
        if dim % groups:
            raise ValueError(f"dim {dim} is not divisible by the {groups} groups of B/C")
        return X.repeat_interleave(dim // groups, dim=1)
    raise ValueError(f"B/C must have 2, 3 or 4 dimensions, got shape {tuple(X.shape)}")


def selective_scan_reference(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False
):
    if A.is_complex():
        raise NotImplementedError("complex A is not supported (Mamba-1 checkpoints use real A)")
    dtype_in = u.dtype
    ct = compute_dtype(u)
    u, delta, A = u.to(ct), delta.to(ct), A.to(ct)
    if delta_bias is not None:
        delta = delta + delta_bias.to(ct)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, length = u.shape
    Bx = expand_bc(B.to(ct), batch, dim)
    Cx = expand_bc(C.to(ct), batch, dim)
    state = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for t in range(length):
        bt = Bx[..., t if Bx.shape[-1] > 1 else 0]
        ct_ = Cx[..., t if Cx.shape[-1] > 1 else 0]
        dt = delta[:, :, t, None]
        state = torch.exp(dt * A) * state + dt * bt * u[:, :, t, None]
        ys.append((state * ct_).sum(-1))
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D.to(ct)[:, None]
    if z is not None:
        out = out * F.silu(z.to(ct))
    out = out.to(dtype_in)
    return (out, state) if return_last_state else out
