"""Where the hand-written Triton kernels may run: a guarded ``triton`` import and one availability rule.

Triton compiles at run time for CUDA tensors; with ``TRITON_INTERPRET=1`` (set before triton is
imported) the same ``@triton.jit`` kernels run on CPU tensors through Triton's interpreter, which is
how the kernel tests run in CI. The interpreter must be on before anything imports triton (the TP library
and transformers do), so tests/conftest.py sets it first; here triton is only looked up, and the kernel
modules (``*_triton.py``) are imported lazily, on first use.
"""

from __future__ import annotations

import functools
import importlib.util
import os

import torch


@functools.lru_cache(maxsize=None)
def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None  # cached: this runs on every decode step


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_unavailable_reason(x: torch.Tensor) -> str | None:
    """None when Triton kernels can run on ``x``, else why not (one line, actionable)."""
    if not triton_installed():
        return "triton is not importable (pip install triton, or a CUDA build of torch, which ships it)"
    if x.is_cuda:
        return None
    if x.device.type != "cpu" or not interpreting():
        return f"Triton kernels need CUDA tensors (got {x.device.type}; on CPU only with TRITON_INTERPRET=1 set before import)"
    import triton.language as tl

    # triton's own @jit helpers (tl.sum, tl.sigmoid, ...) are bound to the interpreter when triton is imported;
    # imported earlier (the TP library and mamba-ssm import it), they fail inside interpreted kernels.
    if type(tl.sum).__name__ != "InterpretedFunction":
        return ("triton was imported before TRITON_INTERPRET=1 was set, so its kernels cannot run on CPU tensors; "
                "set TRITON_INTERPRET=1 before starting Python (tests/conftest.py does)")
    return None


def next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())
