"""The selective-SSM decode step as one Triton kernel (reference: :func:`biomamba.ops.step.selective_state_update_ref`).

Why hand-written: in PyTorch one token of one layer is ~12 elementwise kernels over (batch, d_inner,
d_state) (bias add, softplus, exp, products, the state write, the C contraction, D, the SiLU gate),
each a launch of a few microseconds for a few kB of work. mamba_ssm's ``selective_state_update`` fuses
them the same way, but cannot be imported without its compiled extension. The state is read and
written once; everything else stays in registers, in fp32.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._triton import next_pow2


@triton.jit
def _step(S, X, DT, A, Bm, Cm, Dv, Z, DTB, Y, Dd, N, ssb, ssd, ssn, sxb, sxd, sdtb, sdtd, sad, san,
          sbb, sbn, scb, scn, szb, szd, syb, syd,
          HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_DTB: tl.constexpr, SOFTPLUS: tl.constexpr,
          BD: tl.constexpr, BN: tl.constexpr):
    b, pd = tl.program_id(0), tl.program_id(1)
    ds = pd * BD + tl.arange(0, BD)
    ns = tl.arange(0, BN)
    dm, nm = ds < Dd, ns < N
    m2 = dm[:, None] & nm[None, :]
    x = tl.load(X + b * sxb + ds * sxd, mask=dm, other=0.0).to(tl.float32)
    dt = tl.load(DT + b * sdtb + ds * sdtd, mask=dm, other=0.0).to(tl.float32)
    if HAS_DTB:
        dt += tl.load(DTB + ds, mask=dm, other=0.0).to(tl.float32)
    if SOFTPLUS:  # F.softplus with its threshold 20
        dt = tl.where(dt <= 20.0, tl.log(1.0 + tl.exp(dt)), dt)
    a = tl.load(A + ds[:, None] * sad + ns[None, :] * san, mask=m2, other=0.0).to(tl.float32)
    bv = tl.load(Bm + b * sbb + ns * sbn, mask=nm, other=0.0).to(tl.float32)
    cv = tl.load(Cm + b * scb + ns * scn, mask=nm, other=0.0).to(tl.float32)
    sp = S + b * ssb + ds[:, None] * ssd + ns[None, :] * ssn
    s = tl.load(sp, mask=m2, other=0.0)
    s = s * tl.exp(dt[:, None] * a) + (dt * x)[:, None] * bv[None, :]
    tl.store(sp, s, mask=m2)
    y = tl.sum(s * cv[None, :], axis=1)
    if HAS_D:
        y += tl.load(Dv + ds, mask=dm, other=0.0).to(tl.float32) * x
    if HAS_Z:
        zv = tl.load(Z + b * szb + ds * szd, mask=dm, other=0.0).to(tl.float32)
        y = y * zv * tl.sigmoid(zv)
    tl.store(Y + b * syb + ds * syd, y.to(Y.dtype.element_ty), mask=dm)


def selective_state_update_triton(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False):
    """Same arguments and result as :func:`biomamba.ops.step.selective_state_update_ref` (state fp32, in place)."""
    if state.dtype != torch.float32:
        raise ValueError(f"selective_state_update: the SSM state must be float32, got {state.dtype}")
    batch, dim, n = state.shape
    y = torch.empty(batch, dim, device=x.device, dtype=x.dtype)
    bd = 32 if n <= 32 else 8  # keep the (BD, BN) state tile within a few registers per thread
    zz = z if z is not None else x
    _step[(batch, triton.cdiv(dim, bd))](
        state, x, dt, A, B, C, D if D is not None else x, zz, dt_bias if dt_bias is not None else x, y, dim, n,
        *state.stride(), *x.stride(), *dt.stride(), *A.stride(), *B.stride(), *C.stride(), *zz.stride(), *y.stride(),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_DTB=dt_bias is not None, SOFTPLUS=dt_softplus,
        BD=bd, BN=next_pow2(n))
    return y
