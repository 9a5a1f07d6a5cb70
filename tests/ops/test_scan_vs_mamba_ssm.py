"""Our reference and fast scans equal mamba_ssm's ``selective_scan_ref`` (values and gradients).

Runs in a subprocess (see _mamba_ssm_ref.py for why). mamba-ssm is installed in CI as a
pure-Python wheel (MAMBA_SKIP_CUDA_BUILD); where it is missing the test skips, unless
BIOMAMBA_CI=1 makes missing optional test dependencies an error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_matches_mamba_ssm_selective_scan_ref():
    if importlib.util.find_spec("mamba_ssm") is None:
        if os.environ.get("BIOMAMBA_CI") == "1":
            pytest.fail("mamba-ssm is not installed (.ci/run installs it without CUDA)")
        pytest.skip("mamba-ssm not installed")
    script = Path(__file__).with_name("_mamba_ssm_ref.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    # 3 cases × 2 of our implementations × (output + every input gradient): 9 + 8 + 9 tensors.
    assert len(results) == 2 * (9 + 8 + 9)
    bad = [r for r in results if not r["rel_err"] < 1e-5]
    assert not bad, bad
    assert {r["impl"] for r in results} == {"reference", "fast"}
