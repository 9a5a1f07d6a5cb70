"""Causal depthwise conv1d (+ optional SiLU) as Triton kernels: forward, backward, and the one-token update.

References: :func:`biomamba.ops.conv.causal_conv1d_ref` (``F.conv1d``) and
:func:`biomamba.ops.step.causal_conv1d_update_ref`.

Why hand-written: the torch path is conv1d (which first copies the strided half of ``in_proj``'s
output to a contiguous (b, d, L) tensor and pads it), then SiLU, then autograd saves both; the
``causal_conv1d`` package does it in one pass but is another compiled extension. Here each kernel
reads x once in whatever layout it comes (the mixer's x is channel-last: a view of ``xz``), keeps the
pre-activation out of memory (the backward recomputes it; width is 4, so that is a few FMAs), and
writes a channel-last output, which is what ``x_proj`` then reads without a copy.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._triton import next_pow2



def _blocks(x: torch.Tensor) -> tuple[int, int, int, int]:
    """(channels, time steps) of a tile, tiles per backward program, num_warps.

    CUDA: 64 channels = 128 contiguous bytes of a bf16 channel-last row per time step; 16 steps and 8 warps
    keep the tiles in registers. Compiled for sm_90 (tests/ops/_triton_compile_fused.py): forward 48
    registers, backward 177, no spills (64 x 32 tiles with 4 warps spilled 1 KiB in the backward). A
    backward program walks 16 tiles (256 steps) so that its dW/dbias partials are 16x fewer; without
    that loop the backward takes 104 registers but writes a (batch, L/16, d, 4) fp32 partial buffer.
    Which is faster is for the GPU session to measure (benchmarks/gpu_check.py, phase "kernels").
    The CPU interpreter runs programs one by one in Python: fewer, larger tiles there.
    """
    return (64, 16, 16, 8) if x.is_cuda else (128, 128, 1, 4)


@triton.jit
def _pre(X, W, Bias, xb, ds, dm, t, L, sxd, sxl, swd, swk, WIDTH: tl.constexpr, HAS_BIAS: tl.constexpr,
         BD: tl.constexpr, BL: tl.constexpr):
    """The conv output before the activation at times ``t`` (fp32 tile [BD, BL])."""
    acc = tl.zeros([BD, BL], dtype=tl.float32)
    if HAS_BIAS:
        acc += tl.load(Bias + ds, mask=dm, other=0.0).to(tl.float32)[:, None]
    for k in tl.static_range(WIDTH):
        tk = t - (WIDTH - 1) + k
        m = dm[:, None] & ((tk >= 0) & (tk < L))[None, :]
        xv = tl.load(xb + ds[:, None] * sxd + tk[None, :] * sxl, mask=m, other=0.0).to(tl.float32)
        wk = tl.load(W + ds * swd + k * swk, mask=dm, other=0.0).to(tl.float32)
        acc += wk[:, None] * xv
    return acc


@triton.jit
def _fwd(X, W, Bias, Y, D, L, sxb, sxd, sxl, syb, syd, syl, swd, swk,
         WIDTH: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr, BD: tl.constexpr, BL: tl.constexpr):
    b, pd, pl = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    ds = pd * BD + tl.arange(0, BD)
    ts = pl * BL + tl.arange(0, BL)
    dm = ds < D
    acc = _pre(X, W, Bias, X + b * sxb, ds, dm, ts, L, sxd, sxl, swd, swk, WIDTH, HAS_BIAS, BD, BL)
    if SILU:
        acc = acc * tl.sigmoid(acc)
    m = dm[:, None] & (ts < L)[None, :]
    tl.store(Y + b * syb + ds[:, None] * syd + ts[None, :] * syl, acc.to(Y.dtype.element_ty), mask=m)


@triton.jit
def _bwd(X, W, Bias, DY, DX, DW, DB, D, L, NLB, sxb, sxd, sxl, sdyb, sdyd, sdyl, sdxb, sdxd, sdxl, swd, swk,
         WIDTH: tl.constexpr, WP2: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr,
         BD: tl.constexpr, BL: tl.constexpr, STEPS):
    # dx[s] = sum_j w[W-1-j] * dpre[s+j]; dpre needs pre at s..s+W-1, recomputed from x (cheap, cached).
    # One program walks STEPS time tiles; its dW/dbias partials go to a small fp32 buffer summed afterwards.
    b, pd, pl = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    ds = pd * BD + tl.arange(0, BD)
    dm = ds < D
    xb = X + b * sxb
    kk = tl.arange(0, WP2)
    dw = tl.zeros([BD, WP2], dtype=tl.float32)
    db = tl.zeros([BD], dtype=tl.float32)
    for i in range(STEPS):  # a run-time bound: unrolled (constexpr) it took 178 registers instead of ~100
        ts = (pl * STEPS + i) * BL + tl.arange(0, BL)
        dx = tl.zeros([BD, BL], dtype=tl.float32)
        for j in tl.static_range(WIDTH):
            t = ts + j
            dpre = tl.load(DY + b * sdyb + ds[:, None] * sdyd + t[None, :] * sdyl, mask=dm[:, None] & (t < L)[None, :],
                           other=0.0).to(tl.float32)
            if SILU:
                pre = _pre(X, W, Bias, xb, ds, dm, t, L, sxd, sxl, swd, swk, WIDTH, HAS_BIAS, BD, BL)
                sig = tl.sigmoid(pre)
                dpre = dpre * sig * (1.0 + pre * (1.0 - sig))
            wj = tl.load(W + ds * swd + (WIDTH - 1 - j) * swk, mask=dm, other=0.0).to(tl.float32)
            dx += wj[:, None] * dpre
            if j == 0:  # each output time of this tile once: its dW and dbias terms
                db += tl.sum(dpre, axis=1)
                for k in tl.static_range(WIDTH):
                    tk = t - (WIDTH - 1) + k
                    m = dm[:, None] & ((tk >= 0) & (tk < L))[None, :]
                    xv = tl.load(xb + ds[:, None] * sxd + tk[None, :] * sxl, mask=m, other=0.0).to(tl.float32)
                    dw += tl.where(kk[None, :] == k, tl.sum(dpre * xv, axis=1)[:, None], 0.0)
        m = dm[:, None] & (ts < L)[None, :]
        tl.store(DX + b * sdxb + ds[:, None] * sdxd + ts[None, :] * sdxl, dx.to(DX.dtype.element_ty), mask=m)
    part = b * NLB + pl
    tl.store(DW + part * D * WIDTH + ds[:, None] * WIDTH + kk[None, :], dw, mask=dm[:, None] & (kk < WIDTH)[None, :])
    if HAS_BIAS:
        tl.store(DB + part * D + ds, db, mask=dm)


def _channel_last(b: int, d: int, l: int, like: torch.Tensor, dtype=None) -> torch.Tensor:
    return torch.empty(b, l, d, device=like.device, dtype=dtype or like.dtype).transpose(1, 2)


class CausalConv1dFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, silu: bool):
        b, d, l = x.shape
        width = weight.shape[-1]
        y = _channel_last(b, d, l, x)
        bd, bl, _, warps = _blocks(x)
        grid = (b, triton.cdiv(d, bd), triton.cdiv(l, bl))
        if x.numel():
            _fwd[grid](x, weight, bias if bias is not None else weight, y, d, l, *x.stride(), *y.stride(),
                       *weight.stride(), WIDTH=width, HAS_BIAS=bias is not None, SILU=silu, BD=bd, BL=bl,
                       num_warps=warps)
        ctx.save_for_backward(x, weight, bias)
        ctx.silu = silu
        return y

    @staticmethod
    def backward(ctx, dy):
        x, weight, bias = ctx.saved_tensors
        b, d, l = x.shape
        width = weight.shape[-1]
        bd, bl, steps, warps = _blocks(x)
        nlb = triton.cdiv(l, bl * steps)
        dx = _channel_last(b, d, l, x)
        dw = torch.empty(b * nlb, d, width, device=x.device, dtype=torch.float32)
        db = torch.empty(b * nlb, d, device=x.device, dtype=torch.float32) if bias is not None else dw
        if x.numel():
            _bwd[(b, triton.cdiv(d, bd), nlb)](
                x, weight, bias if bias is not None else weight, dy, dx, dw, db, d, l, nlb, *x.stride(), *dy.stride(),
                *dx.stride(), *weight.stride(), WIDTH=width, WP2=next_pow2(width), HAS_BIAS=bias is not None,
                SILU=ctx.silu, BD=bd, BL=bl, STEPS=steps, num_warps=warps)
        dbias = db.sum(0).to(bias.dtype) if bias is not None else None
        return dx, dw.sum(0).to(weight.dtype), dbias, None


def causal_conv1d_triton(x, weight, bias=None, activation: str | None = "silu"):
    """x (batch, dim, L) any strides, weight (dim, width) -> (batch, dim, L) (channel-last in memory)."""
    return CausalConv1dFn.apply(x, weight, bias, activation == "silu")


@triton.jit
def _update(S, X, W, Bias, Y, D, ssb, ssd, ssk, sxb, sxd, syb, syd, swd, swk,
            WIDTH: tl.constexpr, WP2: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr, BD: tl.constexpr):
    b, pd = tl.program_id(0), tl.program_id(1)
    ds = pd * BD + tl.arange(0, BD)
    kk = tl.arange(0, WP2)
    dm = ds < D
    sb = S + b * ssb + ds[:, None] * ssd
    shifted = tl.load(sb + (kk[None, :] + 1) * ssk, mask=dm[:, None] & (kk[None, :] + 1 < WIDTH), other=0.0)
    xv = tl.load(X + b * sxb + ds * sxd, mask=dm, other=0.0)
    new = tl.where(kk[None, :] == WIDTH - 1, xv[:, None].to(shifted.dtype), shifted)
    tl.debug_barrier()  # every lane has read the old state before any lane overwrites it
    tl.store(sb + kk[None, :] * ssk, new, mask=dm[:, None] & (kk[None, :] < WIDTH))
    w = tl.load(W + ds[:, None] * swd + kk[None, :] * swk, mask=dm[:, None] & (kk[None, :] < WIDTH), other=0.0)
    acc = tl.sum(new.to(tl.float32) * w.to(tl.float32), axis=1)
    if HAS_BIAS:
        acc += tl.load(Bias + ds, mask=dm, other=0.0).to(tl.float32)
    if SILU:
        acc = acc * tl.sigmoid(acc)
    tl.store(Y + b * syb + ds * syd, acc.to(Y.dtype.element_ty), mask=dm)


def causal_conv1d_update_triton(conv_state, x, weight, bias=None, activation: str | None = "silu"):
    """One token: shifts ``conv_state`` (batch, dim, width) left in place, appends x (batch, dim); -> (batch, dim)."""
    b, d, width = conv_state.shape
    y = torch.empty(b, d, device=x.device, dtype=x.dtype)
    _update[(b, triton.cdiv(d, 64))](conv_state, x, weight, bias if bias is not None else weight, y, d,
                                      *conv_state.stride(), *x.stride(), *y.stride(), *weight.stride(), WIDTH=width,
                                      WP2=next_pow2(width), HAS_BIAS=bias is not None, SILU=activation == "silu", BD=64)
    return y
