"""Residual add + RMSNorm (mamba_ssm's ``fused_add_norm`` with ``prenorm=True``): the PyTorch reference.

``residual = x if residual is None else x + residual``; the norm reads ``residual`` cast to the
weight's dtype, computes in fp32 and returns the weight's dtype; the returned residual is fp32 when
``residual_in_fp32``. This is exactly what :class:`biomamba.model.block.MambaBlock` did before the
Triton kernel (:mod:`.norm_triton`) existed, and the kernel is tested against it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def add_rms_norm_ref(x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, eps: float,
                     residual_in_fp32: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (normed (weight dtype), residual_out)."""
    residual = x if residual is None else x + residual
    h = residual.to(weight.dtype)
    h = F.rms_norm(h.float(), (h.shape[-1],), weight.float(), eps).to(h.dtype)
    return h, (residual.float() if residual_in_fp32 else residual)
