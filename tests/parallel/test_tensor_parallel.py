"""TP=2 shards every parameter per tp_layout, gradients equal the full model's slices, clip norm is global."""

from __future__ import annotations

import pytest
import torch

from biomamba.parallel import tp_layout

from ..train.launch import REPO, free_port

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("family", ["mamba1", "mamba2"])
def test_tp2_grads_and_norm_match_full_model(family):
    import subprocess
    import sys

    script = REPO / "tests" / "parallel" / "_tp_worker.py"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={free_port()}", str(script), family],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert proc.stdout.count(" ok") == 2


def test_tp2_with_triton_scan_matches_tp1():
    """The same check with scan_impl=triton on both sides, its kernels under Triton's interpreter."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("triton") is None:
        if os.environ.get("BIOMAMBA_CI") == "1":
            pytest.fail("triton is not installed (scripts/setup_env.sh --test installs it for the kernel tests)")
        pytest.skip("triton not installed")
    script = REPO / "tests" / "parallel" / "_tp_worker.py"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={free_port()}", str(script), "triton"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TRITON_INTERPRET": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert proc.stdout.count(" ok") == 2


@pytest.mark.parametrize("name, shape", [
    ("backbone.layers.0.mixer.in_proj.weight", (12, 5)),
    ("backbone.layers.0.mixer.x_proj.weight", (7, 6)),
    ("backbone.embedding.weight", (8, 3)),
    ("backbone.layers.0.mixer.A_log", (6, 4)),
    ("backbone.layers.0.norm.weight", (5,)),
])
def test_shard_then_merge_is_identity(name, shape):
    full = torch.arange(torch.tensor(shape).prod().item(), dtype=torch.float32).reshape(shape)
    shards = [tp_layout.shard(name, full, 2, r) for r in range(2)]
    assert torch.equal(tp_layout.merge(name, shards), full)


def test_in_proj_split_keeps_matching_x_and_z_channels():
    full = torch.arange(8.0)[:, None]  # rows: x0 x1 x2 x3 | z0 z1 z2 z3
    r0 = tp_layout.shard("mixer.in_proj.weight", full, 2, 0)
    r1 = tp_layout.shard("mixer.in_proj.weight", full, 2, 1)
    assert r0.squeeze().tolist() == [0, 1, 4, 5] and r1.squeeze().tolist() == [2, 3, 6, 7]


@pytest.mark.parametrize("rows", [6, 10])  # d_inner 3 or 5 over TP=2: x and z halves cannot split evenly
def test_in_proj_shard_refuses_indivisible_d_inner(rows):
    with pytest.raises(ValueError, match="d_inner must be divisible by parallel.tensor_parallel"):
        tp_layout.shard("layers.0.mixer.in_proj.weight", torch.zeros(rows, 4), 2, 0)
    with pytest.raises(ValueError, match="d_inner must be divisible"):
        tp_layout.shard("layers.0.mixer.in_proj.bias", torch.zeros(rows), 2, 1)


def _mamba2_cfg(ngroups=2):
    from biomamba.model import MambaConfig

    return MambaConfig(d_model=16, n_layer=1, vocab_size=64,
                       ssm_cfg={"layer": "Mamba2", "d_state": 2, "headdim": 4, "ngroups": ngroups}).validate()


def test_mamba2_in_proj_split_keeps_each_ranks_z_x_b_c_dt_together():
    cfg = _mamba2_cfg()  # d_inner 32, 8 heads, B and C 2 groups x 2 states, dt 8 heads: 80 rows
    full = torch.arange(80.0)[:, None]
    r1 = tp_layout.shard("mixer.in_proj.weight", full, 2, 1, cfg).squeeze().tolist()
    want = list(range(16, 32)) + list(range(48, 64)) + [66, 67] + [70, 71] + list(range(76, 80))
    assert r1 == want
    shards = [tp_layout.shard(n, full, 2, r, cfg) for r in range(2) for n in ["mixer.in_proj.weight"]]
    assert torch.equal(tp_layout.merge("mixer.in_proj.weight", shards, cfg), full)
    conv = torch.arange(40.0)[:, None]  # [x 32; B 4; C 4]
    shards = [tp_layout.shard("mixer.conv1d.weight", conv, 2, r, cfg) for r in range(2)]
    assert shards[0].squeeze().tolist() == list(range(16)) + [32, 33, 36, 37]
    assert torch.equal(tp_layout.merge("mixer.conv1d.weight", shards, cfg), conv)


def test_tp_that_does_not_divide_heads_or_groups_is_a_config_error():
    from biomamba.config import ConfigError
    from biomamba.train.config import TrainConfig

    tc = TrainConfig.from_dict({"model": _mamba2_cfg(ngroups=1).to_dict(), "parallel": {"tensor_parallel": 2},
                                "synthetic_data": True})
    with pytest.raises(ConfigError, match=r"parallel.tensor_parallel=2 .*ngroups=1 is not divisible by 2"):
        tc.validate()
    tc.model.ssm_cfg["ngroups"] = 2
    tc.parallel.tensor_parallel = 3
    with pytest.raises(ConfigError, match=r"nheads=8 .* not divisible by 3"):
        tc.validate()
