"""Fast selective scan in plain PyTorch: chunked over time, with a hand-written backward.

Why not let autograd differentiate the sequential loop (what ``selective_scan_ref``
and HF's slow path do)?  Autograd then keeps ``length × dim × dstate`` states
alive and its backward slices a full-size tensor per time step, which makes the
backward an order of magnitude slower than the forward and memory grow with
``length``.  Here:

* **Forward**: time is cut into chunks of ``chunk_size`` steps. For a chunk, the
  discretized ``exp(Δ·A)`` and ``Δ·B·u`` are computed in one vectorized shot in
  a time-major ``(T, batch, dim, dstate)`` layout, then the recurrence
  ``h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t`` runs in place with ONE fused
  ``addcmul_`` per step on a contiguous slice. Only each chunk's starting state
  is saved for the backward (``length / chunk_size`` states instead of ``length``).
* **Backward**: chunks are visited in reverse; a chunk's states are recomputed
  from its saved starting state, the adjoint ``g_t = C_t dy_t + exp(Δ_{t+1}A) g_{t+1}``
  runs as the mirror-image recurrence (one ``addcmul_`` per step), and every
  parameter gradient is then a vectorized reduction over the chunk.

Computation is in float32 (float64 for float64 inputs), like the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .scan_reference import compute_dtype


def _bc_chunk(X: torch.Tensor, t0: int, t1: int, dim: int) -> tuple[torch.Tensor, str]:
    """B or C for steps [t0, t1) in time-major layout, and its kind.

    kind "const": (1, 1, dim, N); "var": (T, batch, N) (one vector for all channels);
    "group": (T, batch, dim, N) (expanded from (batch, G, N, L)).
    """
    if X.dim() == 2:
        return X[None, None], "const"
    if X.dim() == 3:
        return X[:, :, t0:t1].permute(2, 0, 1).contiguous(), "var"
    groups = X.shape[1]
    Xc = X[..., t0:t1].permute(3, 0, 1, 2)  # (T, batch, G, N)
    T, b, g, n = Xc.shape
    return Xc[:, :, :, None, :].expand(T, b, g, dim // groups, n).reshape(T, b, dim, n), "group"


def _contract_state(H: torch.Tensor, X: torch.Tensor, kind: str) -> torch.Tensor:
    """sum_n H[t,b,d,n] * X[..n] -> (T, batch, dim)."""
    if kind == "var":
        # A batched mat-vec: faster than (H * X[:, :, None]).sum(-1) and no temporary.
        return torch.matmul(H, X.unsqueeze(-1)).squeeze(-1)
    return (H * X).sum(-1)


def _reduce_bc_grad(G: torch.Tensor, w: torch.Tensor, kind: str, groups: int) -> torch.Tensor:
    """Gradient for B or C of sum_{d} G[t,b,d,n] * w[t,b,d], in the chunk's own kind of shape."""
    if kind == "var":
        return torch.matmul(w.unsqueeze(-2), G).squeeze(-2)  # (T, batch, N)
    full = G * w.unsqueeze(-1)  # (T, batch, dim, N)
    if kind == "const":
        return full.sum((0, 1))  # (dim, N)
    T, b, d, n = full.shape
    return full.view(T, b, groups, d // groups, n).sum(3)  # (T, batch, G, N)


def _store_bc_grad(dX: torch.Tensor, g: torch.Tensor, kind: str, t0: int, t1: int) -> None:
    if kind == "const":
        dX += g
    elif kind == "var":
        dX[:, :, t0:t1] = g.permute(1, 2, 0)
    else:
        dX[..., t0:t1] = g.permute(1, 2, 3, 0)


class SelectiveScanFast(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, chunk_size):
        if A.is_complex():
            raise NotImplementedError("complex A is not supported (Mamba-1 checkpoints use real A)")
        ct = compute_dtype(u)
        batch, dim, length = u.shape
        A_c = A.to(ct)
        # Time-major copies of the per-step inputs; every chunk slice is then contiguous.
        u_t = u.to(ct).permute(2, 0, 1).contiguous()  # (L, batch, dim)
        dt_t = delta.to(ct).permute(2, 0, 1)
        if delta_bias is not None:
            dt_t = dt_t + delta_bias.to(ct)
        if delta_softplus:
            dt_t = F.softplus(dt_t)
        dt_t = dt_t.contiguous()
        Bc_, Cc_ = B.to(ct), C.to(ct)

        starts = list(range(0, length, chunk_size))
        chunk_states = u.new_empty((len(starts), batch, dim, A.shape[1]), dtype=ct)
        y_t = u.new_empty((length, batch, dim), dtype=ct)
        h = u.new_zeros((batch, dim, A.shape[1]), dtype=ct)
        for i, t0 in enumerate(starts):
            t1 = min(t0 + chunk_size, length)
            chunk_states[i] = h
            dtc = dt_t[t0:t1, :, :, None]
            dA = torch.exp(dtc * A_c)  # (T, batch, dim, N)
            Bc, kb = _bc_chunk(Bc_, t0, t1, dim)
            Bb = Bc[:, :, None, :] if kb == "var" else Bc
            H = (dtc * u_t[t0:t1, :, :, None]) * Bb  # Δ·B·u, becomes the states in place
            H[0].addcmul_(dA[0], h)
            for t in range(1, t1 - t0):  # the only per-step work: one fused multiply-add
                H[t].addcmul_(dA[t], H[t - 1])
            Cc, kc = _bc_chunk(Cc_, t0, t1, dim)
            y_t[t0:t1] = _contract_state(H, Cc, kc)
            h = H[-1].clone() if t1 == length else H[-1]
        y = y_t.permute(1, 2, 0)  # (batch, dim, L)
        out = y if D is None else y + u.to(ct) * D.to(ct)[:, None]
        if z is not None:
            out = out * F.silu(z.to(ct))
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, chunk_states)
        ctx.delta_softplus = delta_softplus
        ctx.chunk_size = chunk_size
        out = out.to(u.dtype)
        if return_last_state:
            last = h.to(u.dtype) if u.dtype != ct else h
            ctx.mark_non_differentiable(last)
            return out, last
        return out

    @staticmethod
    def backward(ctx, dout, *unused):
        u, delta, A, B, C, D, z, delta_bias, chunk_states = ctx.saved_tensors
        ct = compute_dtype(u)
        batch, dim, length = u.shape
        chunk_size = ctx.chunk_size
        A_c = A.to(ct)
        u_t = u.to(ct).permute(2, 0, 1).contiguous()
        pre_t = delta.to(ct).permute(2, 0, 1)
        if delta_bias is not None:
            pre_t = pre_t + delta_bias.to(ct)
        dt_t = (F.softplus(pre_t) if ctx.delta_softplus else pre_t).contiguous()
        Bc_, Cc_ = B.to(ct), C.to(ct)
        dout_t = dout.to(ct).permute(2, 0, 1)  # (L, batch, dim)

        du_t = torch.zeros_like(u_t)
        ddt_t = torch.zeros_like(dt_t)
        dA = torch.zeros_like(A_c)
        dB = torch.zeros_like(Bc_)
        dC = torch.zeros_like(Cc_)
        dD = torch.zeros(dim, dtype=ct, device=u.device) if D is not None else None
        dz_t = torch.zeros_like(u_t) if z is not None else None
        z_t = z.to(ct).permute(2, 0, 1) if z is not None else None
        D_c = D.to(ct) if D is not None else None

        carry = None  # dL/dh at the end of the current chunk, from later chunks
        starts = list(range(0, length, chunk_size))
        for i in reversed(range(len(starts))):
            t0 = starts[i]
            t1 = min(t0 + chunk_size, length)
            h0 = chunk_states[i]
            dtc = dt_t[t0:t1, :, :, None]
            dAc = torch.exp(dtc * A_c)
            Bc, kb = _bc_chunk(Bc_, t0, t1, dim)
            Cc, kc = _bc_chunk(Cc_, t0, t1, dim)
            Bb = Bc[:, :, None, :] if kb == "var" else Bc
            Cb = Cc[:, :, None, :] if kc == "var" else Cc
            uc = u_t[t0:t1]
            # Recompute this chunk's states from its saved start.
            H = (dtc * uc[:, :, :, None]) * Bb
            H[0].addcmul_(dAc[0], h0)
            for t in range(1, t1 - t0):
                H[t].addcmul_(dAc[t], H[t - 1])
            # Output side: out = (y + D u) * silu(z).
            g = dout_t[t0:t1]
            if z is not None:
                y = _contract_state(H, Cc, kc)
                pre = y if D is None else y + uc * D_c
                zc = z_t[t0:t1]
                sig = torch.sigmoid(zc)
                dz_t[t0:t1] = g * pre * sig * (1 + zc * (1 - sig))
                g = g * zc * sig
            if D is not None:
                dD += (g * uc).sum((0, 1))
                du_t[t0:t1] += g * D_c
            # dC before H is reused.
            _store_bc_grad(dC, _reduce_bc_grad(H, g, kc, Cc_.shape[1] if kc == "group" else 1), kc, t0, t1)
            # Adjoint recurrence: G_t = C_t g_t + exp(Δ_{t+1} A) G_{t+1}.
            G = g[:, :, :, None] * Cb
            if carry is not None:
                G[-1] += carry
            for t in range(t1 - t0 - 2, -1, -1):
                G[t].addcmul_(dAc[t + 1], G[t + 1])
            carry = dAc[0] * G[0]
            # Through h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t.
            Hprev = torch.cat([h0[None], H[:-1]], 0)
            X = G * Hprev * dAc  # dL/d(Δ_t A) per state entry
            ddt_t[t0:t1] += (X * A_c).sum(-1)
            dA += (X * dtc).sum((0, 1))
            s = _contract_state(G, Bc, kb)  # sum_n G * B
            ddt_t[t0:t1] += s * uc
            du_t[t0:t1] += s * dtc[..., 0]
            _store_bc_grad(dB, _reduce_bc_grad(G, dtc[..., 0] * uc, kb, Bc_.shape[1] if kb == "group" else 1), kb, t0, t1)

        ddelta_pre = ddt_t * torch.sigmoid(pre_t) if ctx.delta_softplus else ddt_t
        ddelta_bias = ddelta_pre.sum((0, 1)).to(delta_bias.dtype) if delta_bias is not None else None
        return (
            du_t.permute(1, 2, 0).to(u.dtype),
            ddelta_pre.permute(1, 2, 0).to(delta.dtype),
            dA.to(A.dtype),
            dB.to(B.dtype),
            dC.to(C.dtype),
            dD.to(D.dtype) if D is not None else None,
            dz_t.permute(1, 2, 0).to(z.dtype) if z is not None else None,
            ddelta_bias,
            None,
            None,
            None,
        )


def selective_scan_fast(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False, chunk_size=128
):
    return SelectiveScanFast.apply(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, int(chunk_size)
    )
