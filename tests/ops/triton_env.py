"""Shared guard of the Triton kernel tests: skip without triton (fail instead under BIOMAMBA_CI=1)."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch


def require_triton() -> torch.device:
    """The device the kernels run on here: CUDA, or CPU under the interpreter (tests/conftest.py turns it on)."""
    if importlib.util.find_spec("triton") is None:
        if os.environ.get("BIOMAMBA_CI") == "1":
            pytest.fail("triton is not installed but BIOMAMBA_CI=1: scripts/setup_env.sh --test installs it")
        pytest.skip("triton not installed", allow_module_level=True)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("no CUDA and TRITON_INTERPRET is not 1", allow_module_level=True)
    return torch.device("cpu")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float(), b.detach().float()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
