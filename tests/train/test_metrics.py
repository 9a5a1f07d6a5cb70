"""Throughput and MFU: processed tokens, device peaks; the optimizer ``optim.impl`` builds."""

from __future__ import annotations

import inspect

import pytest
import torch

from biomamba.model import MambaConfig, MambaLM
from biomamba.plan.throughput import peak_tflops
from biomamba.train import config as train_config
from biomamba.train.config import OptimConfig
from biomamba.train.metrics import device_peak_tflops, peak_tflops_for, throughput_record
from biomamba.train.optim import build_optimizer


def test_rates_count_processed_tokens_and_keep_the_scored_rate():
    rec = throughput_record(processed_tokens=8000, scored_tokens=1000, seconds=2.0, world_size=4,
                            flops_per_token=1e9, peak_tflops=1.0)
    assert rec["tokens_per_s"] == 4000 and rec["scored_tokens_per_s"] == 500
    assert rec["tokens_per_s_per_device"] == 1000
    assert rec["tflops_per_device"] == pytest.approx(1e9 * 4000 / 4 / 1e12)
    assert rec["mfu"] == pytest.approx(rec["tflops_per_device"] / 1.0)
    assert (rec["step_tokens"], rec["step_scored_tokens"]) == (8000, 1000)
    assert "mfu" not in throughput_record(8000, 1000, 2.0, 4, 1e9, None)


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989.0),  # SXM5
    ("NVIDIA H100 PCIe", 756.0),
    ("NVIDIA H100 NVL", 835.0),
    ("NVIDIA H200", 989.0),
    ("NVIDIA H200 NVL", 835.0),
    ("NVIDIA GH200 480GB", 989.0),
    ("NVIDIA A100-SXM4-80GB", 312.0),
    ("NVIDIA A100 80GB PCIe", 312.0),
    ("NVIDIA A10G", 70.0),
    ("NVIDIA A10", 125.0),
    ("NVIDIA L40S", 362.0),
    ("NVIDIA GeForce RTX 4090", None),
])
def test_device_names_tell_form_factors_apart(name, peak):
    assert peak_tflops_for(name) == peak


def test_device_peak_reads_the_cuda_device_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 PCIe")
    assert device_peak_tflops(None) == 756.0
    assert device_peak_tflops(500.0) == 500.0  # the config's peak_tflops wins


def test_planner_part_names():
    assert peak_tflops("h100") == 989.0 and peak_tflops("H100-PCIe") == 756.0 and peak_tflops("h100_nvl") == 835.0
    with pytest.raises(ValueError, match="h100-pcie"):
        peak_tflops("h100-sxm9")


def test_optim_impl_fused_is_torch_adamw_and_the_config_says_so():
    model = MambaLM(MambaConfig(d_model=16, n_layer=1, vocab_size=64, ssm_cfg={"d_state": 4})).init_weights(0)
    opt = build_optimizer(model, OptimConfig(impl="fused"), device_type="cuda")  # CPU params: torch has a CPU kernel
    assert type(opt) is torch.optim.AdamW and opt.defaults["fused"] is True
    with pytest.raises(ValueError, match="optim.impl=fused needs CUDA"):
        build_optimizer(model, OptimConfig(impl="fused"), device_type="cpu")
    # The config's description of the setting (the comment block above ``impl``) names what it builds.
    lines = inspect.getsource(train_config.OptimConfig).splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("impl:"))
    described = " ".join(line.strip() for line in lines[max(0, at - 3) : at + 1] if "#" in line)
    assert "torch.optim.AdamW(fused=True)" in described and "FusedAdam =" not in described
    assert "DeepSpeed FusedAdam" not in described
