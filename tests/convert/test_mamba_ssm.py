"""mamba_ssm export: the files mamba_ssm's ``from_pretrained`` reads, readable by its own loader and by ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from biomamba.convert.source import read_source

from .helpers import REPO, export_to, loaded, run_cli, tiny_model


@pytest.mark.parametrize("tie", [True, False])
def test_mamba_ssm_export_reads_back_exactly(tmp_path, tie):
    model = tiny_model(vocab=1003, tie=tie, seed=2)
    out = export_to(loaded(model), tmp_path / "ssm", "mamba_ssm")
    assert json.loads((out / "config.json").read_text()) == model.config.to_mamba_ssm_dict()
    sd = torch.load(out / "pytorch_model.bin", weights_only=True)  # a plain dict of tensors
    assert set(sd) == set(model.state_dict())  # lm_head.weight present even when tied: mamba_ssm loads strictly
    if tie:
        assert sd["lm_head.weight"].data_ptr() == sd["backbone.embedding.weight"].data_ptr()
    back = read_source(out)
    assert back.kind == "mamba_ssm"
    assert back.config.to_mamba_ssm_dict() == model.config.to_mamba_ssm_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict[k], v), k


def test_mamba_ssm_own_loader_reads_the_export(tmp_path):
    model = tiny_model(vocab=1003, seed=4)
    out = export_to(loaded(model), tmp_path / "ssm", "mamba_ssm", dtype="bf16")
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("_mamba_ssm_load.py")), str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["config"] == {**got["config"], **model.config.to_mamba_ssm_dict()}
    assert got["head_shares_embedding"]
    want = {k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}
    assert set(got["tensors"]) == set(want)
    for k, (shape, dtype, total) in got["tensors"].items():
        assert shape == list(want[k].shape) and dtype == "torch.bfloat16", k
        assert total == pytest.approx(float(want[k].double().sum()), rel=1e-9, abs=1e-9), k


def test_mamba_ssm_to_hf_through_the_cli_verifies(tmp_path):
    model = tiny_model(vocab=512, seed=8)
    src = export_to(loaded(model), tmp_path / "ssm", "mamba_ssm")
    assert run_cli(src, "--to", "hf", "--out", tmp_path / "hf", "--verify", "--verify-tol", "1e-5") == 0
    assert run_cli(tmp_path / "hf", "--to", "mamba_ssm", "--out", tmp_path / "ssm2", "--verify") == 0
    a = torch.load(src / "pytorch_model.bin", weights_only=True)
    b = torch.load(tmp_path / "ssm2" / "pytorch_model.bin", weights_only=True)
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
