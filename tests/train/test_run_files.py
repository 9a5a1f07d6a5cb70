"""The run folder records which scan and conv implementation the run actually uses (issue 14 item 4)."""

from __future__ import annotations

import json

import pytest
import torch

from biomamba.train.config import TrainConfig
from biomamba.parallel import ParallelDims
from biomamba.train.trainer import write_run_files

CPU = ParallelDims(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), backend="gloo")


def test_versions_json_records_resolved_kernels(tmp_path, capsys):
    cfg = TrainConfig(run_dir=str(tmp_path))  # model.scan_impl=auto: on CPU that is the PyTorch scan
    versions = write_run_files(cfg, CPU)
    on_disk = json.loads((tmp_path / "versions.json").read_text())
    assert on_disk["kernels"] == versions["kernels"] == {"scan": "fast", "conv": "torch", "norm": "torch"}
    assert "[biomamba] kernels: scan=fast conv=torch norm=torch" in capsys.readouterr().out


def test_forced_scan_that_cannot_run_fails_at_start(tmp_path, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    cfg = TrainConfig(run_dir=str(tmp_path))
    cfg.model.scan_impl = "cuda"  # mamba_ssm's compiled kernel: never on CPU tensors
    with pytest.raises(RuntimeError, match="scan_impl='cuda'"):
        write_run_files(cfg, CPU)
    cfg.model.scan_impl = "triton"  # CPU tensors without the interpreter
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1|triton is not installed"):
        write_run_files(cfg, CPU)
    assert not (tmp_path / "versions.json").exists()
