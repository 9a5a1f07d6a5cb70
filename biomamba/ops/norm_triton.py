"""Residual add + RMSNorm as one Triton kernel each way (forward and backward), same semantics as
:func:`biomamba.ops.norm.add_rms_norm_ref`.

Why hand-written: unfused, the add, the two dtype casts, the norm and its backward are ~6 passes over
(tokens, d_model) per block; fused it is one read of x and residual and one write of each output
(mamba_ssm's ``layer_norm_fn`` does the same, but mamba_ssm cannot be imported without its compiled
extension). All arithmetic is fp32; the sum is rounded to the residual's dtype and then to the
weight's dtype exactly where the PyTorch reference rounds.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._triton import next_pow2


@triton.jit
def _fwd(X, R, W, Y, RO, RSTD, sx, sr, sy, sro, N, eps,
         HAS_R: tl.constexpr, SUM_DT: tl.constexpr, W_DT: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    s = tl.load(X + row * sx + cols, mask=mask, other=0.0).to(tl.float32)
    if HAS_R:
        s += tl.load(R + row * sr + cols, mask=mask, other=0.0).to(tl.float32)
    s = s.to(SUM_DT)  # the rounding of ``x + residual`` in the promoted dtype
    tl.store(RO + row * sro + cols, s.to(RO.dtype.element_ty), mask=mask)
    a = s.to(W_DT).to(tl.float32)  # the norm reads residual.to(weight.dtype)
    rstd = 1.0 / tl.sqrt(tl.sum(a * a, axis=0) / N + eps)
    tl.store(RSTD + row, rstd)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(Y + row * sy + cols, (a * rstd * w).to(Y.dtype.element_ty), mask=mask)


@triton.jit
def _bwd(DY, DRO, RO, W, RSTD, DX, DR, DW, sdy, sdro, sro, sdx, sdr, M, N, rows_per_prog,
         HAS_DRO: tl.constexpr, HAS_R: tl.constexpr, W_DT: tl.constexpr, BLOCK: tl.constexpr):
    # One program walks ``rows_per_prog`` rows and keeps its partial dW in registers (a (programs, N)
    # buffer summed afterwards instead of a (rows, N) one).
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros([BLOCK], dtype=tl.float32)
    start = pid * rows_per_prog
    end = tl.minimum(start + rows_per_prog, M)
    for row in range(start, end):
        a = tl.load(RO + row * sro + cols, mask=mask, other=0.0).to(W_DT).to(tl.float32)
        rstd = tl.load(RSTD + row)
        dy = tl.load(DY + row * sdy + cols, mask=mask, other=0.0).to(tl.float32)
        xhat = a * rstd
        dw += dy * xhat
        g = dy * w
        ds = (g - xhat * (tl.sum(g * xhat, axis=0) / N)) * rstd
        if HAS_DRO:
            ds += tl.load(DRO + row * sdro + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(DX + row * sdx + cols, ds.to(DX.dtype.element_ty), mask=mask)
        if HAS_R:
            tl.store(DR + row * sdr + cols, ds.to(DR.dtype.element_ty), mask=mask)
    tl.store(DW + pid * N + cols, dw, mask=mask)


_TL = {torch.float32: tl.float32, torch.bfloat16: tl.bfloat16, torch.float16: tl.float16}


def _rows(t: torch.Tensor) -> torch.Tensor:
    t = t.reshape(-1, t.shape[-1])
    return t if t.stride(-1) == 1 else t.contiguous()


def _warps(n: int) -> int:
    return min(max(next_pow2(n) // 256, 1), 8)  # a row of up to 2048 fp32 in registers per 8 warps


def _programs(x: torch.Tensor, rows: int) -> int:
    n = torch.cuda.get_device_properties(x.device).multi_processor_count * 4 if x.is_cuda else 4
    return max(1, min(rows, n))


class AddRMSNormFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, residual, weight, eps, residual_in_fp32):
        shape, n = x.shape, x.shape[-1]
        sum_dtype = x.dtype if residual is None else torch.promote_types(x.dtype, residual.dtype)
        ro_dtype = torch.float32 if residual_in_fp32 else sum_dtype
        x2 = _rows(x)
        r2 = _rows(residual) if residual is not None else x2
        m = x2.shape[0]
        y = torch.empty(m, n, device=x.device, dtype=weight.dtype)
        ro = torch.empty(m, n, device=x.device, dtype=ro_dtype)
        rstd = torch.empty(m, device=x.device, dtype=torch.float32)
        if m:
            _fwd[(m,)](x2, r2, weight, y, ro, rstd, x2.stride(0), r2.stride(0), y.stride(0), ro.stride(0), n, eps,
                       HAS_R=residual is not None, SUM_DT=_TL[sum_dtype], W_DT=_TL[weight.dtype], BLOCK=next_pow2(n),
                       num_warps=_warps(n))
        ctx.save_for_backward(ro, weight, rstd)
        ctx.x_dtype = x.dtype
        ctx.r_dtype = None if residual is None else residual.dtype
        ctx.shape = shape
        return y.view(shape), ro.view(shape)

    @staticmethod
    def backward(ctx, dy, dro):
        ro, weight, rstd = ctx.saved_tensors
        m, n = ro.shape
        dy2 = _rows(dy)
        dro2 = _rows(dro) if dro is not None else dy2
        dx = torch.empty(m, n, device=ro.device, dtype=ctx.x_dtype)
        dr = torch.empty(m, n, device=ro.device, dtype=ctx.r_dtype) if ctx.r_dtype is not None else dx
        progs = _programs(ro, m)
        dw = torch.zeros(progs, n, device=ro.device, dtype=torch.float32)
        if m:
            _bwd[(progs,)](dy2, dro2, ro, weight, rstd, dx, dr, dw, dy2.stride(0), dro2.stride(0), ro.stride(0),
                           dx.stride(0), dr.stride(0), m, n, triton.cdiv(m, progs), HAS_DRO=dro is not None,
                           HAS_R=ctx.r_dtype is not None, W_DT=_TL[weight.dtype], BLOCK=next_pow2(n),
                           num_warps=_warps(n))
        dres = dr.view(ctx.shape) if ctx.r_dtype is not None else None
        return dx.view(ctx.shape), dres, dw.sum(0).to(weight.dtype), None, None


def add_rms_norm_triton(x, residual, weight, eps: float, residual_in_fp32: bool = False):
    """-> (normed (weight dtype), residual_out); see :func:`biomamba.ops.norm.add_rms_norm_ref`."""
    return AddRMSNormFn.apply(x, residual, weight, eps, residual_in_fp32)
