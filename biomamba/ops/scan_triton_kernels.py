"""Triton kernels of the Mamba-1 selective scan (forward and backward); the launcher is :mod:`.scan_triton`.

Recurrence, per (batch, channel d, state n), time t, all in fp32:
    h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t,   y_t = Σ_n C_t h_t,   out = (y + D u) · silu(z)

Work split (why): a program owns one batch row, BLOCK_D channels and one chunk of CHUNK time steps,
so a small batch still fills the GPU (b · d/BLOCK_D · l/CHUNK programs). The chunk's states live only
in registers as a (BLOCK_D, BLOCK_N, CHUNK) tile and are produced by ONE ``tl.associative_scan`` over
time (log-depth instead of CHUNK dependent steps). Chunks meet through their boundary states:

1. ``_chunk_kernel`` MODE 0 scans each chunk from a zero state and stores its end state S_c and ΣΔ_c.
2. ``_carry_kernel`` walks the chunks in order: h_start[c] = h; h = exp(A ΣΔ_c) h + S_c. Its arrays are
   (b, n_chunks, d, n): 1/CHUNK of a (b, d, n, l) tensor, the only states that ever reach memory.
3. ``_chunk_kernel`` MODE 1 rescans each chunk from h_start[c] and writes out.

Rescanning (pass 3) costs a second read of u, Δ, B (cheap next to the exp per state entry) but writes
the output once; the alternative, storing each chunk's zero-start output and fixing it up afterwards,
writes and rereads a (b, d, l) fp32 tensor. A single chunk (l ≤ CHUNK) skips passes 1-2.

The backward mirrors it: the adjoint G_t = C_t g_t + exp(Δ_{t+1} A) G_{t+1} is the same linear
recurrence in reverse (``reverse=True`` scan), so ``_bwd_local_kernel`` finds each chunk's local
adjoint carry, ``_carry_kernel`` (REVERSE) links them, and ``_bwd_kernel`` recomputes the chunk's
forward states from the saved h_start[c] (nothing per time step was saved) and forms every gradient.
Reductions over channels (dB, dC) and over batch/time (dA, dD, dΔ-bias) go to per-program partial
buffers summed by torch afterwards: deterministic, unlike atomics, and small (see the launcher).

B and C are (batch, G, N, L) (G=1 for Mamba's (batch, N, L)); channel block ``pid_g`` of group
``grp`` reads channels grp·DG + [0, DG). Padded lanes (d ≥ DG, n ≥ N, t ≥ L) get Δ=0, u=0, g=0,
so they neither move a state nor add to a sum.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _linear_combine(a1, b1, a2, b2):
    # Compose h -> a1 h + b1 then h -> a2 h + b2 (associative; the scan's operator).
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _softplus(x):
    # log1p(exp(x)) for x <= 20 (torch's and mamba_ssm's threshold), else x. tl has no log1p that
    # runs under the interpreter, so use the exact-rounding trick log1p(e) = log(w)·e/(w-1), w = 1+e
    # (log(1+e) alone loses all digits of a tiny e, i.e. of a very negative x).
    e = tl.exp(tl.minimum(x, 20.0))
    w = 1.0 + e
    lp = tl.where(w == 1.0, e, tl.log(w) * (e / (w - 1.0)))
    return tl.where(x <= 20.0, lp, x)


@triton.jit
def _load_dt(delta, bias, bd, ch, t, m2, mask_d, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Δ for a (BLOCK_D, CHUNK) tile after bias and softplus, 0 on padded lanes; and the pre-softplus value."""
    pre = tl.load(delta + bd[:, None] + t[None, :], mask=m2, other=0.0).to(tl.float32)
    if HAS_BIAS:
        pre += tl.load(bias + ch, mask=mask_d, other=0.0).to(tl.float32)[:, None]
    dt = pre
    if SOFTPLUS:
        dt = _softplus(pre)
    return tl.where(m2, dt, 0.0), pre


@triton.jit
def _chunk_kernel(
    u, delta, A, B, C, Dp, z, bias, out, h_start, s_end, dt_sum,
    L, DM, DG, G, N, NC,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    MODE: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):
    pid_bg, pid_d, pid_c = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    b, grp = pid_bg // G, pid_bg % G
    dl = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)  # channel within the group
    ch = grp * DG + dl
    mask_d = dl < DG
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    idx = tl.arange(0, CHUNK)
    t = pid_c * CHUNK + idx
    mask_t = t < L
    m2 = mask_d[:, None] & mask_t[None, :]
    bd = b * DM * L + ch * L  # (b, d, l) contiguous
    dt, _ = _load_dt(delta, bias, bd, ch, t, m2, mask_d, HAS_BIAS, SOFTPLUS)
    uu = tl.load(u + bd[:, None] + t[None, :], mask=m2, other=0.0).to(tl.float32)
    mdn = mask_d[:, None] & mask_n[None, :]
    Aa = tl.load(A + ch[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32)
    bc = (b * G + grp) * N * L + offs_n[:, None] * L + t[None, :]  # (b, G, N, L) contiguous
    mnt = mask_n[:, None] & mask_t[None, :]
    Bt = tl.load(B + bc, mask=mnt, other=0.0).to(tl.float32)
    dA = tl.exp(dt[:, None, :] * Aa[:, :, None])  # (BLOCK_D, BLOCK_N, CHUNK); 1 on padded steps
    x = (dt * uu)[:, None, :] * Bt[None, :, :]
    # (b, NC, d, n) index of this tile's boundary state
    sidx = ((b * NC + pid_c) * DM + ch[:, None]) * N + offs_n[None, :]
    if MODE == 1:
        h0 = tl.load(h_start + sidx, mask=mdn, other=0.0)
        # Fold the carried-in state into step 0: h_0 = dA_0 h_start + x_0.
        x = tl.where(idx[None, None, :] == 0, x + dA * h0[:, :, None], x)
    _, h = tl.associative_scan((dA, x), axis=2, combine_fn=_linear_combine)
    if MODE == 0:
        # Padded steps are the identity, so the tile's last column is the chunk's end state.
        s = tl.sum(tl.where(idx[None, None, :] == CHUNK - 1, h, 0.0), axis=2)
        tl.store(s_end + sidx, s, mask=mdn)
        tl.store(dt_sum + (b * NC + pid_c) * DM + ch, tl.sum(dt, axis=1), mask=mask_d)
    else:
        Ct = tl.load(C + bc, mask=mnt, other=0.0).to(tl.float32)
        y = tl.sum(h * Ct[None, :, :], axis=1)  # (BLOCK_D, CHUNK)
        if HAS_D:
            y += uu * tl.load(Dp + ch, mask=mask_d, other=0.0).to(tl.float32)[:, None]
        if HAS_Z:
            zz = tl.load(z + bd[:, None] + t[None, :], mask=m2, other=0.0).to(tl.float32)
            y *= zz * tl.sigmoid(zz)
        tl.store(out + bd[:, None] + t[None, :], y, mask=m2)


@triton.jit
def _carry_kernel(
    s_in, dt_sum, A, h_out, last, DM, N, NC,
    REVERSE: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """Sequential pass over chunk summaries: h_out[c] = state entering chunk c (from the far side)."""
    b, pid_d = tl.program_id(0), tl.program_id(1)
    ch = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    m = (ch < DM)[:, None] & (offs_n < N)[None, :]
    Aa = tl.load(A + ch[:, None] * N + offs_n[None, :], mask=m, other=0.0).to(tl.float32)
    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    for i in range(NC):
        c = NC - 1 - i if REVERSE else i
        sidx = ((b * NC + c) * DM + ch[:, None]) * N + offs_n[None, :]
        tl.store(h_out + sidx, h, mask=m)
        dsum = tl.load(dt_sum + (b * NC + c) * DM + ch, mask=ch < DM, other=0.0)
        # A chunk maps h to exp(A ΣΔ) h + S: the product of its per-step decays is one exp.
        h = tl.exp(Aa * dsum[:, None]) * h + tl.load(s_in + sidx, mask=m, other=0.0)
    tl.store(last + (b * DM + ch[:, None]) * N + offs_n[None, :], h, mask=m)


@triton.jit
def _gate_grad(dout, z, uu, y, Dv, HAS_D: tl.constexpr, HAS_Z: tl.constexpr):
    """g = dL/dy and dL/dz from dL/dout, for out = (y + D u) · silu(z). (One return: early returns
    inside constexpr branches are not something to rely on in every Triton version.)"""
    g = dout
    gz = dout
    if HAS_Z:
        sig = tl.sigmoid(z)
        pre = y
        if HAS_D:
            pre = y + uu * Dv[:, None]
        g = dout * z * sig
        gz = dout * pre * sig * (1.0 + z * (1.0 - sig))
    return g, gz


@triton.jit
def _bwd_kernel(
    u, delta, A, B, C, Dp, z, bias, dout, h_start, carry_in,
    s_end, du, ddelta, dz, dA_p, dD_p, dbias_p, dB_p, dC_p,
    L, DM, DG, G, N, NC,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    MODE: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
    D_ITERS: tl.constexpr,
):
    """MODE 0: each chunk's local adjoint carry dA_{t0}·G_{t0} (zero carry-in) into ``s_end``.
    MODE 1: every gradient, from h_start[c] (forward) and carry_in[c] (adjoint from later chunks).

    A program loops over D_ITERS blocks of BLOCK_D channels so that its dB/dC partial (one
    (N, CHUNK) tile summed over D_ITERS·BLOCK_D channels) is written once: fewer partial rows.
    """
    pid_bg, pid_d, pid_c = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    b, grp = pid_bg // G, pid_bg % G
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    idx = tl.arange(0, CHUNK)
    t = pid_c * CHUNK + idx
    mask_t = t < L
    mnt = mask_n[:, None] & mask_t[None, :]
    bc = (b * G + grp) * N * L + offs_n[:, None] * L + t[None, :]
    Bt = tl.load(B + bc, mask=mnt, other=0.0).to(tl.float32)
    Ct = tl.load(C + bc, mask=mnt, other=0.0).to(tl.float32)
    dB_acc = tl.zeros((BLOCK_N, CHUNK), dtype=tl.float32)
    dC_acc = tl.zeros((BLOCK_N, CHUNK), dtype=tl.float32)
    for it in range(D_ITERS):
        dl = (pid_d * D_ITERS + it) * BLOCK_D + tl.arange(0, BLOCK_D)
        ch = grp * DG + dl
        mask_d = dl < DG
        m2 = mask_d[:, None] & mask_t[None, :]
        mdn = mask_d[:, None] & mask_n[None, :]
        bd = b * DM * L + ch * L
        dt, pre = _load_dt(delta, bias, bd, ch, t, m2, mask_d, HAS_BIAS, SOFTPLUS)
        # Δ_{t+1}: the adjoint runs backwards, so step t is scaled by the NEXT step's decay. Loading
        # the shifted tile again (an L2 hit) is cheaper than shifting a register tile.
        m2n = mask_d[:, None] & ((t + 1) < L)[None, :]
        dt_next, _ = _load_dt(delta, bias, bd, ch, t + 1, m2n, mask_d, HAS_BIAS, SOFTPLUS)
        uu = tl.load(u + bd[:, None] + t[None, :], mask=m2, other=0.0).to(tl.float32)
        go = tl.load(dout + bd[:, None] + t[None, :], mask=m2, other=0.0).to(tl.float32)
        zz = go
        if HAS_Z:
            zz = tl.load(z + bd[:, None] + t[None, :], mask=m2, other=0.0).to(tl.float32)
        Dv = tl.zeros((BLOCK_D,), dtype=tl.float32)
        if HAS_D:
            Dv = tl.load(Dp + ch, mask=mask_d, other=0.0).to(tl.float32)
        Aa = tl.load(A + ch[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32)
        sidx = ((b * NC + pid_c) * DM + ch[:, None]) * N + offs_n[None, :]
        dA = tl.exp(dt[:, None, :] * Aa[:, :, None])
        last = idx[None, None, :] == CHUNK - 1
        if MODE == 0:
            g, _ = _gate_grad(go, zz, uu, go, Dv, False, HAS_Z)  # g needs no y
            xg = g[:, None, :] * Ct[None, :, :]
            _, Gl = tl.associative_scan((tl.exp(dt_next[:, None, :] * Aa[:, :, None]), xg), axis=2,
                                        combine_fn=_linear_combine, reverse=True)
            s = tl.sum(tl.where(idx[None, None, :] == 0, dA * Gl, 0.0), axis=2)
            tl.store(s_end + sidx, s, mask=mdn)
        else:
            # Recompute the chunk's forward states from its saved start (no per-step state was stored).
            x = (dt * uu)[:, None, :] * Bt[None, :, :]
            h0 = tl.load(h_start + sidx, mask=mdn, other=0.0)
            x0 = tl.where(idx[None, None, :] == 0, x + dA * h0[:, :, None], x)
            _, h = tl.associative_scan((dA, x0), axis=2, combine_fn=_linear_combine)
            y = tl.sum(h * Ct[None, :, :], axis=1)
            g, gz = _gate_grad(go, zz, uu, y, Dv, HAS_D, HAS_Z)
            if HAS_Z:
                tl.store(dz + bd[:, None] + t[None, :], gz, mask=m2)
            dC_acc += tl.sum(h * g[:, None, :], axis=0)
            # Adjoint G_t = C_t g_t + dA_{t+1} G_{t+1}; the later chunks' carry enters at the last step.
            cin = tl.load(carry_in + sidx, mask=mdn, other=0.0)
            xg = g[:, None, :] * Ct[None, :, :]
            xg = tl.where(last, xg + cin[:, :, None], xg)
            _, Gt = tl.associative_scan((tl.exp(dt_next[:, None, :] * Aa[:, :, None]), xg), axis=2,
                                        combine_fn=_linear_combine, reverse=True)
            # dL/d(Δ_t A) = G_t · dA_t h_{t-1} = G_t (h_t - x_t): no shifted copy of h needed.
            X = Gt * (h - x)
            sB = tl.sum(Gt * Bt[None, :, :], axis=1)  # Σ_n G B
            ddt = tl.sum(X * Aa[:, :, None], axis=1) + sB * uu
            dB_acc += tl.sum(Gt * (dt * uu)[:, None, :], axis=0)
            tl.store(dA_p + sidx, tl.sum(X * dt[:, None, :], axis=2), mask=mdn)
            du_v = sB * dt
            pidx = (b * NC + pid_c) * DM + ch
            if HAS_D:
                du_v += g * Dv[:, None]
                tl.store(dD_p + pidx, tl.sum(g * uu, axis=1), mask=mask_d)
            tl.store(du + bd[:, None] + t[None, :], du_v, mask=m2)
            if SOFTPLUS:
                ddt = ddt * tl.sigmoid(pre)
            ddt = tl.where(m2, ddt, 0.0)
            tl.store(ddelta + bd[:, None] + t[None, :], ddt, mask=m2)
            if HAS_BIAS:
                tl.store(dbias_p + pidx, tl.sum(ddt, axis=1), mask=mask_d)
    if MODE == 1:
        # (NDP, b, G, N, L) partials: one row per channel group of this program, summed by torch.
        prow = (((pid_d * (tl.num_programs(0) // G)) + b) * G + grp) * N * L
        tl.store(dB_p + prow + offs_n[:, None] * L + t[None, :], dB_acc, mask=mnt)
        tl.store(dC_p + prow + offs_n[:, None] * L + t[None, :], dC_acc, mask=mnt)
