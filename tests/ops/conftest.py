"""The Triton kernels run on CPU tensors here through Triton's interpreter.

``TRITON_INTERPRET=1`` has to be set before a kernel module is loaded; biomamba loads its scan
kernels on first use, so setting it while pytest collects this folder is early enough.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def interpreted_triton():
    """Skip without triton, except under BIOMAMBA_CI=1 (CI installs it: scripts/setup_env.sh --test)."""
    if importlib.util.find_spec("triton") is None:
        if os.environ.get("BIOMAMBA_CI") == "1":
            pytest.fail("triton is not installed (scripts/setup_env.sh --test installs it for the kernel tests)")
        pytest.skip("triton not installed")
    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.fail("TRITON_INTERPRET was set to something other than 1; the kernel tests need the interpreter")
