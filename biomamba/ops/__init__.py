"""Selective scan and causal convolution, with the implementation chosen in ONE place.

``impl``:
  * ``"cuda"``      — mamba_ssm's CUDA kernel (``selective_scan_fn``); needs mamba-ssm built with CUDA and CUDA tensors.
  * ``"fast"``      — our chunked PyTorch scan with a hand-written backward (CPU or GPU): :mod:`.scan_fast`.
  * ``"reference"`` — the plain sequential loop, differentiated by autograd: :mod:`.scan_reference`.
  * ``"auto"``      — ``cuda`` when available for these tensors, else ``fast``.

Mamba-2's SSD scan and gated norm are selected the same way in :mod:`.ssd` (``ssd_scan``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .scan_fast import selective_scan_fast
from .scan_reference import selective_scan_reference
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

IMPLS = ("auto", "fast", "reference", "cuda")


def cuda_kernels_available() -> bool:
    return _mamba_selective_scan_fn is not None and torch.cuda.is_available()


def resolve_impl(impl: str, u: torch.Tensor) -> str:
    if impl not in IMPLS:
        raise ValueError(f"scan impl {impl!r} is not one of {IMPLS}")
    if impl == "auto":
        return "cuda" if (u.is_cuda and _mamba_selective_scan_fn is not None) else "fast"
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
    if which == "fast":
        return selective_scan_fast(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, chunk_size)
    return selective_scan_reference(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


def causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str | None = "silu"):
    """Depthwise causal convolution over time: ``x`` (batch, dim, L), ``weight`` (dim, width)."""
    if _causal_conv1d_fn is not None and x.is_cuda:  # pragma: no cover
        return _causal_conv1d_fn(x, weight, bias, activation=activation)
    width = weight.shape[-1]
    y = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(y) if activation == "silu" else y


__all__ = [
    "selective_scan",
    "selective_scan_fast",
    "selective_scan_reference",
    "ssd_scan",
    "gated_rmsnorm",
    "resolve_ssd_impl",
    "causal_conv1d",
    "cuda_kernels_available",
    "resolve_impl",
    "IMPLS",
]
