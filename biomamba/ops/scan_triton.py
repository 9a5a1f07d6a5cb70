"""Selective scan in Triton (forward + backward): mamba_ssm ``selective_scan_fn``'s arguments and semantics.

Runs on CUDA tensors wherever torch ships Triton (nothing to compile ahead of time), and on CPU tensors
under Triton's interpreter (``TRITON_INTERPRET=1`` set before the first triton kernel is loaded;
that is how the tests run it). The kernels and their design are in :mod:`.scan_triton_kernels`.

Memory: besides inputs, outputs and gradients, the forward keeps for the backward only the states at
chunk starts, (batch, l/CHUNK, d, n) fp32, plus ΣΔ per chunk. The backward's temporaries: three arrays
of that size (local adjoint carries, linked carries, dA partials), contiguous copies of inputs that came
as views, and dB/dC partials of (d/32, batch, n, l) fp32 each (at n=16 as large as one (batch, d, l)
bf16 tensor). No (batch, d, n, l) tensor in either direction.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import torch

from ._triton import triton_installed

# Time steps per program: the saved states are 1/CHUNK of all states (the same as the fast scan's
# chunk-start states at equal chunk size, which is what the planner counts); a power of two.
CHUNK = 128
TILE_FWD = 4096  # elements of a (BLOCK_D, BLOCK_N, CHUNK) register tile: forward ...
TILE_BWD = 2048  # ... and backward, which holds ~3x more live tiles (h, G, dA, x)
D_PER_BWD_PROGRAM = 32  # channels one backward program sums its dB/dC partial over


def _triton_installed() -> bool:
    return triton_installed()  # the one lookup, shared with the other kernels (biomamba.ops._triton)


def triton_unavailable_reason(u: torch.Tensor) -> str | None:
    """Why ``impl='triton'`` cannot run on ``u``'s device here, or None if it can."""
    if not _triton_installed():
        return ("triton is not installed (CUDA builds of torch ship it; CPU: pip install 'triton>=3.4,<4' "
                "and set TRITON_INTERPRET=1); use scan_impl=fast or auto")
    if not u.is_cuda:
        if os.environ.get("TRITON_INTERPRET") != "1":
            return ("scan_impl='triton' on CPU tensors runs only under Triton's interpreter: set TRITON_INTERPRET=1 "
                    "before starting Python (slow; for tests), or use scan_impl=fast or auto on CPU")
        if not _kernels_interpreted():
            return ("triton kernels were loaded before TRITON_INTERPRET=1 was set, so they cannot run on CPU "
                    "tensors; set TRITON_INTERPRET=1 before starting Python, or use scan_impl=fast")
    return None


_KERNELS = None


def _kernels():
    """Import the kernels on first use, so TRITON_INTERPRET set after ``import biomamba`` still counts."""
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = importlib.import_module(".scan_triton_kernels", __package__)
    return _KERNELS


def _kernels_interpreted() -> bool:
    return type(_kernels()._chunk_kernel).__name__ == "InterpretedFunction"


def _warps(n: int) -> dict:
    return {} if _kernels_interpreted() else {"num_warps": n}  # the interpreter takes no launch options


def fwd_meta(DG: int, BN: int, chunk: int) -> dict:
    """Compile-time parameters of ``_chunk_kernel``. num_warps=4: at n=16, chunk=128 (BLOCK_D=2) the tile
    is 32 fp32 values per thread per live tensor: 136 registers on sm_90, no spills (ptxas, triton 3.9)."""
    return dict(BLOCK_D=max(1, min(_pow2(DG), TILE_FWD // (BN * chunk))), BLOCK_N=BN, CHUNK=chunk, **_warps(4))


def bwd_meta(DG: int, BN: int, chunk: int) -> dict:
    """Compile-time parameters of ``_bwd_kernel``. It keeps h, G, dA, x and the gradients live at once, so
    half the forward's tile over twice the warps: 176 registers at n=16, chunk=128, no spills (4 warps
    would spill)."""
    bd = max(1, min(_pow2(DG), TILE_BWD // (BN * chunk)))
    return dict(BLOCK_D=bd, BLOCK_N=BN, CHUNK=chunk, D_ITERS=max(1, min(DG, D_PER_BWD_PROGRAM) // bd), **_warps(8))


def carry_meta(dim: int, BN: int) -> dict:
    """``_carry_kernel`` walks the chunks one after another, so it is latency-bound: small (BLOCK_D, BLOCK_N)
    tiles of 1024 states give more programs to hide it (d=1536, n=16: 24 per batch row)."""
    return dict(BLOCK_D=max(1, min(_pow2(dim), 1024 // BN)), BLOCK_N=BN, **_warps(4))


def _pow2(x: int) -> int:
    return 1 << max(0, int(x) - 1).bit_length()


def _as_groups(X: torch.Tensor, dim: int) -> torch.Tensor:
    """B or C as contiguous (batch, G, N, L)."""
    if X.dim() == 3:
        X = X.unsqueeze(1)
    elif X.dim() != 4:
        raise ValueError(f"scan_impl='triton' needs B/C of shape (batch, dstate, length) or (batch, groups, "
                         f"dstate, length), got {tuple(X.shape)}; use scan_impl=fast for constant B/C")
    if dim % X.shape[1]:
        raise ValueError(f"dim {dim} is not divisible by the {X.shape[1]} groups of B/C")
    return X.contiguous()


def _geometry(u, A, Bg, chunk):
    batch, dim, length = u.shape
    G, N = Bg.shape[1], A.shape[1]
    bn = _pow2(N)
    nc = -(-length // chunk)
    return batch, dim, length, G, dim // G, N, bn, nc


def _opt(x):
    return x.contiguous() if x is not None else None


class SelectiveScanTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, chunk):
        if A.is_complex():
            raise NotImplementedError("complex A is not supported (Mamba-1 checkpoints use real A)")
        if u.dtype == torch.float64:
            raise ValueError("scan_impl='triton' computes in fp32; float64 inputs need scan_impl=fast or reference")
        # The kernels index with int32 (faster address math); the largest arrays are (b, d, l) and the
        # backward's dB/dC partials, (d/32, b, n, l).
        if max(u.numel(), -(-u.shape[1] // D_PER_BWD_PROGRAM) * u.shape[0] * A.shape[1] * u.shape[2]) >= 2**31:
            raise ValueError(f"scan_impl='triton' indexes with int32: {tuple(u.shape)} with d_state {A.shape[1]} is "
                             "too large; use a smaller micro-batch or sequence length")
        k = _kernels()
        # The backward gets the caller's tensors (often transposed views of saved projections: free) and
        # makes its own contiguous copies; saving the copies would add ~3 (b, d, l) tensors per layer.
        given = (u, delta, A, B, C, D, z, delta_bias)
        u, delta, A, D, z, delta_bias = (_opt(x) for x in (u, delta, A, D, z, delta_bias))
        Bg, Cg = _as_groups(B, u.shape[1]), _as_groups(C, u.shape[1])
        batch, dim, length, G, DG, N, BN, nc = _geometry(u, A, Bg, chunk)
        f32 = dict(dtype=torch.float32, device=u.device)
        h_start = torch.zeros(batch, nc, dim, N, **f32)
        last = torch.empty(batch, dim, N, **f32)
        dt_sum = torch.empty(batch, nc, dim, **f32)
        out = torch.empty_like(u)
        meta = fwd_meta(DG, BN, chunk)
        grid = (batch * G, -(-DG // meta["BLOCK_D"]), nc)
        flags = dict(HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
                     SOFTPLUS=bool(delta_softplus), **meta)
        args = (u, delta, A, Bg, Cg, D, z, delta_bias, out, h_start)
        dims = (length, dim, DG, G, N, nc)
        if nc > 1 or return_last_state:  # a single chunk starts from zero: no summaries needed
            s_end = torch.empty(batch, nc, dim, N, **f32)
            k._chunk_kernel[grid](*args, s_end, dt_sum, *dims, MODE=0, **flags)
            cm = carry_meta(dim, BN)
            k._carry_kernel[(batch, -(-dim // cm["BLOCK_D"]))](s_end, dt_sum, A, h_start, last, dim, N, nc,
                                                                REVERSE=False, **cm)
        k._chunk_kernel[grid](*args, h_start, dt_sum, *dims, MODE=1, **flags)
        ctx.save_for_backward(*given, h_start, dt_sum)
        ctx.delta_softplus, ctx.chunk = bool(delta_softplus), chunk
        if return_last_state:  # fp32, like mamba_ssm's selective_scan_fn and our reference
            ctx.mark_non_differentiable(last)
            return out, last
        return out

    @staticmethod
    def backward(ctx, dout, *unused):
        *given, h_start, dt_sum = ctx.saved_tensors
        u, delta, A, B, C, D, z, delta_bias = (_opt(x) for x in given)
        k = _kernels()
        chunk = ctx.chunk
        dout = dout.contiguous()
        Bg, Cg = _as_groups(B, u.shape[1]), _as_groups(C, u.shape[1])
        batch, dim, length, G, DG, N, BN, nc = _geometry(u, A, Bg, chunk)
        f32 = dict(dtype=torch.float32, device=u.device)
        meta = bwd_meta(DG, BN, chunk)
        ndp = -(-DG // (meta["BLOCK_D"] * meta["D_ITERS"]))
        grid = (batch * G, ndp, nc)
        flags = dict(HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
                     SOFTPLUS=ctx.delta_softplus, **meta)
        carry_in = torch.zeros(batch, nc, dim, N, **f32)
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dz = torch.empty_like(z) if z is not None else None
        dA_p = torch.empty(batch, nc, dim, N, **f32)
        dD_p = torch.empty(batch, nc, dim, **f32) if D is not None else None
        dbias_p = torch.empty(batch, nc, dim, **f32) if delta_bias is not None else None
        dB_p = torch.empty(ndp, batch, G, N, length, **f32)
        dC_p = torch.empty(ndp, batch, G, N, length, **f32)
        args = (u, delta, A, Bg, Cg, D, z, delta_bias, dout, h_start)
        outs = (du, ddelta, dz, dA_p, dD_p, dbias_p, dB_p, dC_p)
        dims = (length, dim, DG, G, N, nc)
        if nc > 1:
            s_loc = torch.empty(batch, nc, dim, N, **f32)
            k._bwd_kernel[grid](*args, carry_in, s_loc, *outs, *dims, MODE=0, **flags)
            cm = carry_meta(dim, BN)
            k._carry_kernel[(batch, -(-dim // cm["BLOCK_D"]))](s_loc, dt_sum, A, carry_in, torch.empty(batch, dim, N, **f32),
                                                                dim, N, nc, REVERSE=True, **cm)
        k._bwd_kernel[grid](*args, carry_in, carry_in, *outs, *dims, MODE=1, **flags)
        dB = dB_p.sum(0).view(B.shape) if B.dim() == 4 else dB_p.sum(0)[:, 0]
        dC = dC_p.sum(0).view(C.shape) if C.dim() == 4 else dC_p.sum(0)[:, 0]
        return (
            du, ddelta, dA_p.sum((0, 1)).to(A.dtype), dB.to(B.dtype), dC.to(C.dtype),
            dD_p.sum((0, 1)).to(D.dtype) if D is not None else None,
            dz,
            dbias_p.sum((0, 1)).to(delta_bias.dtype) if delta_bias is not None else None,
            None, None, None,
        )


def selective_scan_triton(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False, chunk_size=None
):
    """``chunk_size``: time steps per program, a power of two (default :data:`CHUNK`; the mixer passes
    ``model.scan_chunk_size``). Sequences shorter than a chunk use the next power of two above their length."""
    chunk = CHUNK if chunk_size is None else int(chunk_size)
    if chunk < 1 or chunk & (chunk - 1):
        raise ValueError(f"the triton scan's chunk size (model.scan_chunk_size) must be a power of two, got {chunk}")
    chunk = min(chunk, _pow2(u.shape[-1]))  # a full chunk would mostly be padding
    reason = triton_unavailable_reason(u)
    if reason:
        raise RuntimeError(reason)
    return SelectiveScanTriton.apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, chunk)
