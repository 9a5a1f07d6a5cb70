"""benchmarks/gpu_check.py works end to end before device time is spent on it: its --smoke mode (CPU,
Triton interpreter, tiny shapes and model) runs every phase, prints the three BENCH lines and writes
its RESULTS section to the output folder, not to the repository's RESULTS.md."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.ops.triton_env import require_triton

pytestmark = pytest.mark.slow


def test_gpu_check_smoke(tmp_path):
    require_triton()
    from biomamba.ops import IMPLS

    results_md = REPO_ROOT / "benchmarks" / "RESULTS.md"
    before = results_md.read_bytes()
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path), "--smoke"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for metric in ("scan_triton_over_bandwidth_bound", "gpu_mfu_1.4b", "gpu_speedup_triton_vs_fast_130m"):
        assert re.search(rf"^BENCH {re.escape(metric)} \S+ target (<=|>=)\S+ (PASS|FAIL)$", proc.stdout, re.M), metric
    assert "HBM bound formula: bytes = " in proc.stdout
    res = json.loads((tmp_path / "gpu_results.json").read_text())
    for phase in ("env", "kernels", "engine_1.4b", "engine_130m", "engine_130m_fast", "profile_1.4b", "decode_130m"):
        assert "error" not in res[phase] and "skipped" not in res[phase], (phase, res[phase])
    assert res["kernels"]["conv_max_rel_err"] < 1e-5 and res["kernels"]["norm_max_rel_err"] < 1e-5
    rows = res["scan"]
    assert [r["shape"] for r in rows] == [[1, 8, 4, 33], [1, 12, 4, 40]]
    for impl in ["fast"] + (["triton"] if "triton" in IMPLS else []):  # triton rows once the Triton scan exists
        assert all(r[f"{impl}_ms"] > 0 and r["bound_ms"] > 0 for r in rows), impl
    if "triton" in IMPLS:
        assert res["kernels"]["scan_max_rel_err"] < 1e-5
    tri, fast = res["engine_130m"], res["engine_130m_fast"]
    assert tri["kernel_impl"] == "triton" and fast["kernel_impl"] == "torch" and tri["micro_batch"] == fast["micro_batch"]
    assert tri["losses"] == pytest.approx(fast["losses"], rel=1e-4)  # fp32 on CPU: same training, either kernels
    assert res["profile_1.4b"]["top_kernels"] and res["decode_130m"]["same_tokens"]
    section = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- gpu_check:start -->" in section and "SMOKE RUN" in section and "BENCH gpu_mfu_1.4b" in section
    assert results_md.read_bytes() == before
