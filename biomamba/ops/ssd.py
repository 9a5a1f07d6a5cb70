"""Mamba-2's SSD scan and gated RMSNorm, with the implementation chosen in ONE place
(the Mamba-2 counterpart of :func:`biomamba.ops.selective_scan`; same ``impl`` values):

  * ``"cuda"``      — mamba_ssm's pure-Triton ``mamba_chunk_scan_combined`` / ``rmsnorm_fn``
                      (imported by :mod:`.mamba_ssm_triton`); needs CUDA tensors.
  * ``"fast"``      — our chunked SSD in PyTorch (:mod:`.ssd_chunked`), CPU or GPU.
  * ``"reference"`` — the sequential recurrence (:mod:`.ssd_reference`).
  * ``"auto"``      — ``cuda`` for CUDA tensors when the Triton kernels import, else ``fast``.

The path taken is logged once per distinct choice.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from . import mamba_ssm_triton
from .ssd_chunked import ssd_chunked
from .ssd_reference import ssd_reference

log = logging.getLogger(__name__)
_logged: set = set()


def resolve_ssd_impl(impl: str, x: torch.Tensor) -> str:
    if impl not in ("auto", "fast", "reference", "cuda"):
        raise ValueError(f"scan impl {impl!r} is not one of ('auto', 'fast', 'reference', 'cuda')")
    if impl == "auto":
        impl = "cuda" if (x.is_cuda and mamba_ssm_triton.load() is not None) else "fast"
    elif impl == "cuda":
        if mamba_ssm_triton.load() is None:
            raise RuntimeError(
                f"model.scan_impl=cuda: mamba_ssm's Triton SSD kernels cannot be imported "
                f"({mamba_ssm_triton.how_loaded()}); use scan_impl=fast or auto"
            )
        if not x.is_cuda:
            raise RuntimeError("model.scan_impl=cuda needs CUDA tensors; use scan_impl=fast or auto on CPU")
    if (impl, x.device.type) not in _logged:
        _logged.add((impl, x.device.type))
        detail = f" via {mamba_ssm_triton.how_loaded()}" if impl == "cuda" else ""
        log.info("Mamba-2 SSD on %s: %s%s", x.device.type, impl, detail)
    return impl


def ssd_scan(
    x, dt, A, B, C, chunk_size, D=None, z=None, dt_bias=None, initial_states=None,
    dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False,
    impl: str = "auto", torch_chunk_size: int = 128,
):
    """``mamba_chunk_scan_combined``'s arguments and results (plus ``impl``; ``chunk_size`` is the
    Triton kernel's, ``torch_chunk_size`` the PyTorch SSD's)."""
    which = resolve_ssd_impl(impl, x)
    kw = dict(D=D, z=z, dt_bias=dt_bias, initial_states=initial_states, dt_softplus=dt_softplus,
              dt_limit=tuple(dt_limit), return_final_states=return_final_states)
    if which == "cuda":
        return mamba_ssm_triton.load()[0](x, dt, A, B, C, chunk_size, **kw)
    if which == "fast":  # the Mamba-2 mixer recomputes it in the backward (see Mamba2Mixer.forward)
        return ssd_chunked(x, dt, A, B, C, torch_chunk_size, **kw)
    return ssd_reference(x, dt, A, B, C, chunk_size, **kw)


def gated_rmsnorm(x, weight, z=None, eps=1e-5, group_size=None, norm_before_gate=False, impl: str = "auto"):
    """mamba_ssm's gated RMSNorm: ``norm(x · silu(z))`` (or ``norm(x) · silu(z)`` when
    ``norm_before_gate``), normalized over groups of ``group_size`` channels, in fp32."""
    if resolve_ssd_impl(impl, x) == "cuda":
        return mamba_ssm_triton.load()[1](x, weight, None, z=z, eps=eps, group_size=group_size,
                                          norm_before_gate=norm_before_gate)
    dtype = x.dtype
    cdt = torch.promote_types(dtype, torch.float32)
    h = x.to(cdt)
    if z is not None and not norm_before_gate:
        h = h * F.silu(z.to(cdt))
    g = h.shape[-1] if group_size is None else group_size
    hg = h.unflatten(-1, (h.shape[-1] // g, g))
    h = (hg * torch.rsqrt(hg.square().mean(-1, keepdim=True) + eps)).flatten(-2) * weight.to(cdt)
    if z is not None and norm_before_gate:
        h = h * F.silu(z.to(cdt))
    return h.to(dtype)
