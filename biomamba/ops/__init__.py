"""Selective scan and causal convolution, with the implementation chosen in ONE place.

``impl``:
  * ``"cuda"``      — mamba_ssm's CUDA kernel (``selective_scan_fn``); needs mamba-ssm built with CUDA and CUDA tensors.
  * ``"fast"``      — our chunked PyTorch scan with a hand-written backward (CPU or GPU): :mod:`.scan_fast`.
  * ``"triton"``    — our Triton kernels, forward and backward (:mod:`.scan_triton`); CUDA tensors, or CPU
    tensors under Triton's interpreter (``TRITON_INTERPRET=1``, for tests).
  * ``"reference"`` — the plain sequential loop, differentiated by autograd: :mod:`.scan_reference`.
  * ``"auto"``      — on CUDA tensors ``cuda`` if mamba_ssm's kernel is built, else ``triton`` if triton is
    installed, else ``fast`` with a loud warning (the PyTorch scan is launch-bound on a GPU); on CPU ``fast``.

The other kernels of a block (residual add + RMSNorm, causal conv1d, the one-token decode updates)
take ``impl`` from ``MambaConfig.kernel_impl`` (:data:`KERNEL_IMPLS`), resolved by :func:`resolve_kernel_impl`:
``torch`` (the PyTorch references: :mod:`.norm`, :mod:`.step`), ``triton`` (:mod:`.norm_triton`,
:mod:`.conv_triton`, :mod:`.step_triton`), ``auto`` = triton on CUDA tensors when triton imports, else torch.
The softplus of delta, its bias and the SiLU gate by z are not separate kernels on any path: every
scan implementation applies them inside (``delta_bias``, ``delta_softplus``, ``z``).

:func:`kernel_report` says which scan, conv and norm implementation a run on a device will use (logged at start).

Mamba-2's SSD scan and gated norm are selected the same way in :mod:`.ssd` (``ssd_scan``).
"""

from __future__ import annotations

import sys

import torch

from ._triton import triton_unavailable_reason as kernels_triton_unavailable_reason
from .norm import add_rms_norm_ref
from .scan_fast import selective_scan_fast
from .scan_reference import selective_scan_reference
from .scan_triton import selective_scan_triton, triton_unavailable_reason as scan_triton_unavailable_reason
from .step import causal_conv1d_ref, causal_conv1d_update_ref, selective_state_update_ref
from .ssd import gated_rmsnorm, resolve_ssd_impl, ssd_scan  # Mamba-2 (same impl names)

# Optional CUDA kernels. mamba_ssm imports its compiled extension (and triton) at
# module import, so any failure there means "not available" for us.
try:  # pragma: no cover - exercised only where mamba-ssm was built with CUDA
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _mamba_selective_scan_fn
except Exception:  # ImportError, or RuntimeError from a CUDA-less build
    _mamba_selective_scan_fn = None

try:  # pragma: no cover
    from causal_conv1d import causal_conv1d_fn as _causal_conv1d_fn
except Exception:
    _causal_conv1d_fn = None

IMPLS = ("auto", "fast", "reference", "cuda", "triton")
_warned_gpu_fallback = False


def cuda_kernels_available() -> bool:
    return _mamba_selective_scan_fn is not None and torch.cuda.is_available()


def _warn_pytorch_scan_on_gpu(why: str) -> None:
    global _warned_gpu_fallback
    if not _warned_gpu_fallback:
        _warned_gpu_fallback = True
        bar = "!" * 100
        print(f"{bar}\n[biomamba] WARNING: this GPU run uses the PyTorch selective scan ({why}); it launches small "
              f"kernels per time step (1.4b trained at 1.4 % MFU on an H200 with it, benchmarks/RESULTS.md).\n[biomamba] Install triton (CUDA builds of torch ship "
              f"it) or mamba-ssm's CUDA kernels, and leave model.scan_impl=auto.\n{bar}", file=sys.stderr, flush=True)


def resolve_impl(impl: str, u: torch.Tensor) -> str:
    if impl not in IMPLS:
        raise ValueError(f"scan impl {impl!r} is not one of {IMPLS}")
    if impl == "auto":
        if not u.is_cuda:
            return "fast"
        if _mamba_selective_scan_fn is not None:
            return "cuda"
        reason = scan_triton_unavailable_reason(u)
        if reason is None:
            return "triton"
        _warn_pytorch_scan_on_gpu(f"scan_impl=auto fell back to fast: {reason}")
        return "fast"
    if impl == "triton":
        reason = scan_triton_unavailable_reason(u)
        if reason:
            raise RuntimeError(reason)
        return impl
    if impl == "cuda":
        if _mamba_selective_scan_fn is None:
            raise RuntimeError(
                "scan_impl='cuda' needs mamba-ssm built with CUDA kernels "
                "(pip install -e .[gpu] --no-build-isolation on a GPU node); use scan_impl=fast or auto"
            )
        if not u.is_cuda:
            raise RuntimeError("scan_impl='cuda' needs CUDA tensors; use scan_impl=fast or auto on CPU")
    return impl


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    impl: str = "auto",
    chunk_size: int = 128,
):
    """Same arguments and semantics as ``mamba_ssm``'s ``selective_scan_fn`` (plus ``impl``, ``chunk_size``)."""
    which = resolve_impl(impl, u)
    if which == "cuda":
        return _mamba_selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if which == "triton":
        return selective_scan_triton(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, chunk_size)
    if which == "fast":
        return selective_scan_fast(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, chunk_size)
    return selective_scan_reference(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


KERNEL_IMPLS = ("auto", "torch", "triton")


def resolve_kernel_impl(impl: str, x: torch.Tensor) -> str:
    """``torch`` or ``triton`` for the norm / conv / decode-step kernels on tensors like ``x``."""
    if impl not in KERNEL_IMPLS:
        raise ValueError(f"model.kernel_impl {impl!r} is not one of {KERNEL_IMPLS}")
    if impl == "torch" or (impl == "auto" and not x.is_cuda):
        return "torch"
    reason = kernels_triton_unavailable_reason(x)
    if impl == "auto":
        return "torch" if reason else "triton"
    if reason:
        raise RuntimeError(f"model.kernel_impl=triton cannot run here: {reason}; use kernel_impl=torch or auto")
    return "triton"


def resolve_conv_impl(x: torch.Tensor, kernel_impl: str = "auto") -> str:
    """``causal_conv1d`` (the compiled package, preferred by ``auto`` on CUDA when installed), else ``triton``
    or ``torch`` (F.conv1d) by :func:`resolve_kernel_impl`."""
    if kernel_impl == "auto" and _causal_conv1d_fn is not None and x.is_cuda:
        return "causal_conv1d"
    return resolve_kernel_impl(kernel_impl, x)


def kernel_report(scan_impl: str, device: torch.device | str, kernel_impl: str = "auto") -> dict:
    """The scan, conv and norm implementations a model runs on ``device``: logged once at start.

    A GPU run on the PyTorch scan prints a loud warning; a forced impl that cannot run raises its one-line error.
    """
    probe = torch.empty(0, device=device)
    scan = resolve_impl(scan_impl, probe)
    if probe.is_cuda and scan in ("fast", "reference"):
        _warn_pytorch_scan_on_gpu(f"model.scan_impl={scan_impl}")
    return {"scan": scan, "conv": resolve_conv_impl(probe, kernel_impl), "norm": resolve_kernel_impl(kernel_impl, probe)}


def add_rms_norm(x, residual, weight, eps: float, residual_in_fp32: bool = False, impl: str = "auto"):
    """``residual = x (+ residual)``; -> (RMSNorm(residual) in weight's dtype, residual (fp32 if asked))."""
    if resolve_kernel_impl(impl, x) == "triton":
        from .norm_triton import add_rms_norm_triton  # lazy: see biomamba.ops._triton

        return add_rms_norm_triton(x, residual, weight, eps, residual_in_fp32)
    return add_rms_norm_ref(x, residual, weight, eps, residual_in_fp32)


def causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str | None = "silu",
                  impl: str = "auto"):
    """Depthwise causal convolution over time: ``x`` (batch, dim, L), ``weight`` (dim, width).

    ``auto`` on CUDA prefers the compiled ``causal_conv1d`` package when installed.
    """
    which = resolve_conv_impl(x, impl)
    if which == "causal_conv1d":  # pragma: no cover
        return _causal_conv1d_fn(x, weight, bias, activation=activation)
    if which == "triton":
        from .conv_triton import causal_conv1d_triton

        return causal_conv1d_triton(x, weight, bias, activation)
    return causal_conv1d_ref(x, weight, bias, activation)


def causal_conv1d_update(conv_state, x, weight, bias=None, activation: str | None = "silu", impl: str = "auto"):
    """Decode step of :func:`causal_conv1d`: shifts ``conv_state`` (batch, dim, width) in place; -> (batch, dim)."""
    if resolve_kernel_impl(impl, x) == "triton":
        from .conv_triton import causal_conv1d_update_triton

        return causal_conv1d_update_triton(conv_state, x, weight, bias, activation)
    return causal_conv1d_update_ref(conv_state, x, weight, bias, activation)


def selective_state_update(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False, impl: str = "auto"):
    """Decode step of the selective scan; ``state`` (batch, dim, n) fp32 updated in place; -> y (batch, dim)."""
    if resolve_kernel_impl(impl, x) == "triton":
        from .step_triton import selective_state_update_triton

        return selective_state_update_triton(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus)
    return selective_state_update_ref(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus)


__all__ = [
    "selective_scan",
    "selective_scan_fast",
    "selective_scan_reference",
    "selective_scan_triton",
    "ssd_scan",
    "gated_rmsnorm",
    "resolve_ssd_impl",
    "causal_conv1d",
    "kernel_report",
    "resolve_conv_impl",
    "causal_conv1d_update",
    "selective_state_update",
    "add_rms_norm",
    "resolve_kernel_impl",
    "KERNEL_IMPLS",
    "cuda_kernels_available",
    "resolve_impl",
    "IMPLS",
]
