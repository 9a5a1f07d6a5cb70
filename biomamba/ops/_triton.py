"""Where the hand-written Triton kernels may run: a guarded ``triton`` import and one availability rule.

Triton compiles at run time for CUDA tensors; with ``TRITON_INTERPRET=1`` (set before triton is
imported) the same ``@triton.jit`` kernels run on CPU tensors through Triton's interpreter, which is
how the kernel tests run in CI. The kernel modules (``*_triton.py``) are imported lazily, on first
use, so that a test can still set ``TRITON_INTERPRET`` before they are decorated.
"""

from __future__ import annotations

import os

import torch

try:  # torch's CUDA builds ship triton; the CPU test environment installs it for the interpreter
    import triton  # noqa: F401
except Exception:  # pragma: no cover - depends on the environment
    triton = None


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_unavailable_reason(x: torch.Tensor) -> str | None:
    """None when Triton kernels can run on ``x``, else why not (one line, actionable)."""
    if triton is None:
        return "triton is not importable (pip install triton, or a CUDA build of torch, which ships it)"
    if x.is_cuda or (x.device.type == "cpu" and interpreting()):
        return None
    return f"Triton kernels need CUDA tensors (got {x.device.type}; on CPU only with TRITON_INTERPRET=1 set before import)"


def next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())
