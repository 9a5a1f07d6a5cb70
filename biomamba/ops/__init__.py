"""Selective scan and causal convolution, with the implementation chosen in ONE place.

``impl``:
  * ``"cuda"``      — mamba_ssm's CUDA kernel (``selective_scan_fn``); needs mamba-ssm built with CUDA and CUDA tensors.
  * ``"fast"``      — our chunked PyTorch scan with a hand-written backward (CPU or GPU): :mod:`.scan_fast`.
  * ``"triton"``    — our Triton kernels, forward and backward (:mod:`.scan_triton`); CUDA tensors, or CPU
    tensors under Triton's interpreter (``TRITON_INTERPRET=1``, for tests).
  * ``"reference"`` — the plain sequential loop, differentiated by autograd: :mod:`.scan_reference`.
  * ``"auto"``      — on CUDA tensors ``cuda`` if mamba_ssm's kernel is built, else ``triton`` if triton is
    installed, else ``fast`` with a loud warning (the PyTorch scan is launch-bound on a GPU); on CPU ``fast``.

:func:`kernel_report` says which scan and conv implementation a run on a device will use (logged at start).
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from .scan_fast import selective_scan_fast
from .scan_reference import selective_scan_reference
from .scan_triton import selective_scan_triton, triton_unavailable_reason

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
        reason = triton_unavailable_reason(u)
        if reason is None:
            return "triton"
        _warn_pytorch_scan_on_gpu(f"scan_impl=auto fell back to fast: {reason}")
        return "fast"
    if impl == "triton":
        reason = triton_unavailable_reason(u)
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


def resolve_conv_impl(x: torch.Tensor) -> str:
    """``causal_conv1d`` (the compiled package) on CUDA tensors when installed, else ``torch`` (F.conv1d)."""
    return "causal_conv1d" if (_causal_conv1d_fn is not None and x.is_cuda) else "torch"


def kernel_report(scan_impl: str, device: torch.device | str) -> dict:
    """The scan and conv implementations a model with ``scan_impl`` runs on ``device``: logged once at start.

    A GPU run on the PyTorch scan prints a loud warning; a forced impl that cannot run raises its one-line error.
    """
    probe = torch.empty(0, device=device)
    scan = resolve_impl(scan_impl, probe)
    if probe.is_cuda and scan in ("fast", "reference"):
        _warn_pytorch_scan_on_gpu(f"model.scan_impl={scan_impl}")
    return {"scan": scan, "conv": resolve_conv_impl(probe)}


def causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str | None = "silu"):
    """Depthwise causal convolution over time: ``x`` (batch, dim, L), ``weight`` (dim, width)."""
    if resolve_conv_impl(x) == "causal_conv1d":  # pragma: no cover
        return _causal_conv1d_fn(x, weight, bias, activation=activation)
    width = weight.shape[-1]
    y = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(y) if activation == "silu" else y


__all__ = [
    "selective_scan",
    "selective_scan_fast",
    "selective_scan_reference",
    "selective_scan_triton",
    "causal_conv1d",
    "kernel_report",
    "resolve_conv_impl",
    "cuda_kernels_available",
    "resolve_impl",
    "IMPLS",
]
