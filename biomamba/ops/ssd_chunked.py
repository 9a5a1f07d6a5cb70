"""Chunked SSD in PyTorch (Mamba-2's scan for CPU, and the GPU fallback), differentiated by autograd.

The algorithm of the Mamba-2 paper (section 6, "SSD algorithm"), written per *group* so B and C
are never repeated over the heads that share them (ngroups=1: C·Bᵀ is one (Q, Q) matrix per chunk,
not one per head — the main cost saving against transformers' torch path):

1. intra-chunk (quadratic, "attention-like") outputs: ``(C Bᵀ ∘ L) (dt·x)`` with the decay mask
   ``L[t, s] = exp(Σ_{s<k≤t} dt_k A)``, computed from a masked cumulative sum (no differences of
   large cumulative sums, so fp32 stays accurate for long chunks);
2. each chunk's state contribution ``Σ_s exp(Σ_{k>s} dt_k A) dt_s x_s ⊗ B_s``;
3. the inter-chunk recurrence over chunk states (a short loop: one step per chunk, carrying the
   initial state in and the final state out);
4. outputs from the chunk-start states ``C_t · s_start · exp(Σ_{k≤t} dt_k A)``.

Exact for any length: the sequence is padded to whole chunks with ``dt = 0`` (decay 1, input 0),
which leaves the outputs and the final state unchanged. Memory is O(L · Q · H) for the masks, i.e.
linear in the sequence length; ``chunk_size`` trades memory for matmul size and does not change
the result beyond rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .ssd_reference import discretize_dt


def _segsum(a: torch.Tensor) -> torch.Tensor:
    """a (..., Q) -> (..., Q, Q) with ``out[t, s] = Σ_{s<k≤t} a_k`` for ``s ≤ t`` and -inf above the diagonal."""
    q = a.shape[-1]
    x = a[..., None, :].expand(*a.shape, q).transpose(-1, -2)  # x[t, s] = a[t]
    x = x.masked_fill(~torch.tril(torch.ones(q, q, dtype=torch.bool, device=a.device), -1), 0)
    out = torch.cumsum(x, dim=-2)
    return out.masked_fill(~torch.tril(torch.ones(q, q, dtype=torch.bool, device=a.device)), float("-inf"))


def ssd_chunked(
    x, dt, A, B, C, chunk_size=128, D=None, z=None, dt_bias=None, initial_states=None,
    dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False,
):
    """Same arguments and results as :func:`biomamba.ops.ssd_reference.ssd_reference`."""
    batch, length, nheads, headdim = x.shape
    ngroups, dstate = B.shape[2], B.shape[3]
    rep = nheads // ngroups
    q = max(1, min(int(chunk_size), length))
    nchunks = -(-length // q)
    pad = nchunks * q - length
    cdt = torch.promote_types(x.dtype, torch.float32)
    dt = discretize_dt(dt, dt_bias, dt_softplus, dt_limit).to(cdt)
    xc = x.to(cdt)

    def chunks(t, *tail):  # (b, L, ...) -> (b, c, Q, ...), zero-padded at the end
        return F.pad(t, (0,) * (2 * (t.dim() - 2)) + (0, pad)).reshape(batch, nchunks, q, *tail)

    xdt = chunks(xc * dt[..., None], ngroups, rep, headdim)  # (b, c, Q, g, r, p)
    Bc = chunks(B.to(cdt), ngroups, dstate)  # (b, c, Q, g, n)
    Cc = chunks(C.to(cdt), ngroups, dstate)
    a = chunks(dt * A.to(cdt), ngroups, rep).permute(0, 1, 3, 4, 2)  # (b, c, g, r, Q)
    a_cum = torch.cumsum(a, dim=-1)

    # 1. intra-chunk: decay mask per head, C·Bᵀ per group.
    decay = torch.exp(_segsum(a))  # (b, c, g, r, Q, Q)
    cb = torch.einsum("bclgn,bcsgn->bcgls", Cc, Bc)  # (b, c, g, Q, Q)
    y = torch.einsum("bcgrls,bcsgrp->bclgrp", decay * cb[:, :, :, None], xdt)

    # 2. state contributed by each chunk (decay to the chunk's end = the mask's last row).
    to_end = decay[..., -1, :]  # (b, c, g, r, Q)
    # Two-operand products (here and in step 4), each one GEMM batched over (b, c, g) with heads·headdim
    # as a matrix dimension; the three-operand einsums ran as many small per-head GEMMs (the SSD's
    # fwd+bwd at 130m/512 on CPU took ~20 % longer).
    chunk_states = torch.einsum("bcsgrp,bcsgn->bcgrpn", xdt * to_end.permute(0, 1, 4, 2, 3)[..., None], Bc)

    # 3. inter-chunk recurrence (one step per chunk).
    chunk_decay = torch.exp(a_cum[..., -1])  # (b, c, g, r)
    if initial_states is None:
        state = xc.new_zeros(batch, ngroups, rep, headdim, dstate)
    else:
        state = initial_states.to(cdt).reshape(batch, ngroups, rep, headdim, dstate)
    starts = []
    for c in range(nchunks):
        starts.append(state)
        state = state * chunk_decay[:, c, ..., None, None] + chunk_states[:, c]
    start = torch.stack(starts, dim=1)  # (b, c, g, r, p, n)

    # 4. outputs from the chunk-start states, decayed to each position.
    y = y + torch.einsum("bclgn,bcgrpn->bclgrp", Cc, start) * torch.exp(a_cum).permute(0, 1, 4, 2, 3)[..., None]
    y = y.reshape(batch, nchunks * q, nheads, headdim)[:, :length]
    if D is not None:
        y = y + xc * (D.to(cdt)[:, None] if D.dim() == 1 else D.to(cdt))
    if z is not None:
        y = y * F.silu(z.to(cdt))
    y = y.to(x.dtype)
    if return_final_states:
        return y, state.reshape(batch, nheads, headdim, dstate)
    return y
