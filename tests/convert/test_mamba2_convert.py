"""Mamba-2 conversion: HF Mamba2ForCausalLM and mamba_ssm directories, round trips, --verify, and a TP=2
training run started from an HF Mamba-2 directory whose checkpoint exports back to HF."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from biomamba.convert.source import read_source
from biomamba.convert.weights import load_weights
from biomamba.model import MambaConfig, MambaLM

from .helpers import REPO, export_to, loaded, run_cli

transformers = pytest.importorskip("transformers")


def tiny_mamba2(vocab=1003, seed=0, tie=True, d_model=32, n_layer=2, ngroups=2) -> MambaLM:
    """Every tensor distinct (noise on top of the init), so a swapped or mis-split tensor would show."""
    cfg = MambaConfig(d_model=d_model, n_layer=n_layer, vocab_size=vocab, tie_embeddings=tie,
                      pad_vocab_size_multiple=16, scan_chunk_size=8, ssm_cfg={"layer": "Mamba2", "d_state": 8, "headdim": 8, "ngroups": ngroups,
                                                  "chunk_size": 16})
    model = MambaLM(cfg).init_weights(seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def _same_tensors(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for k, v in a.items():
        assert v.dtype == b[k].dtype and torch.equal(v, b[k]), k


@pytest.mark.parametrize("tie", [True, False])
def test_hf_roundtrip_is_identical_and_transformers_gives_our_logits(tmp_path, tie):
    model = tiny_mamba2(tie=tie)
    src = export_to(loaded(model), tmp_path / "src", "hf")
    cfg = json.loads((src / "config.json").read_text())
    assert cfg["model_type"] == "mamba2" and cfg["architectures"] == ["Mamba2ForCausalLM"]
    assert run_cli(src, "--to", "biomamba", "--out", tmp_path / "ours") == 0
    assert run_cli(tmp_path / "ours", "--to", "hf", "--out", tmp_path / "back", "--verify") == 0
    _same_tensors(load_weights(src), load_weights(tmp_path / "back"))
    assert json.loads((tmp_path / "back" / "config.json").read_text()) == cfg
    back = read_source(tmp_path / "back")
    assert back.kind == "hf" and back.config.is_mamba2 and back.config.vocab_size == 1003
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32).eval()
    ids = torch.randint(0, 1003, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids), rtol=1e-4, atol=1e-4)


def test_transformers_made_mamba2_dir_roundtrips_bit_identically(tmp_path):
    cfg = transformers.Mamba2Config(vocab_size=1024, hidden_size=64, num_hidden_layers=2, state_size=8, num_heads=8,
                                    head_dim=16, n_groups=2, chunk_size=16, tie_word_embeddings=True,
                                    bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    transformers.Mamba2ForCausalLM(cfg).save_pretrained(tmp_path / "src")
    assert run_cli(tmp_path / "src", "--to", "biomamba", "--out", tmp_path / "ours") == 0
    assert run_cli(tmp_path / "ours", "--to", "hf", "--out", tmp_path / "back") == 0
    _same_tensors(load_weights(tmp_path / "src"), load_weights(tmp_path / "back"))
    c0 = json.loads((tmp_path / "src" / "config.json").read_text())
    c1 = json.loads((tmp_path / "back" / "config.json").read_text())
    assert {k: v for k, v in c1.items() if k != "transformers_version"} == \
        {k: v for k, v in c0.items() if k != "transformers_version"}


def test_mamba_ssm_export_verifies_and_mamba_ssms_loader_reads_it(tmp_path):
    model = tiny_mamba2(seed=3)
    src = export_to(loaded(model), tmp_path / "ours", "biomamba")
    out = tmp_path / "ssm"
    assert run_cli(src, "--to", "mamba_ssm", "--out", out, "--verify") == 0
    assert json.loads((out / "config.json").read_text()) == model.config.to_mamba_ssm_dict()
    back = read_source(out)
    assert back.kind == "mamba_ssm" and back.config.to_mamba_ssm_dict() == model.config.to_mamba_ssm_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict[k], v), k
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("_mamba_ssm_load.py")), str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["config"]["ssm_cfg"] == {"layer": "Mamba2", "d_state": 8, "headdim": 8, "ngroups": 2, "chunk_size": 16}
    assert set(got["tensors"]) == set(model.state_dict())


@pytest.mark.slow
def test_tp2_training_from_an_hf_mamba2_dir_and_back_to_hf(tmp_path):
    """init.from_pretrained of an HF Mamba-2 directory under TP=2 (ngroups=2): the first loss (before any
    update) equals the source model's; the TP=2 checkpoint exports to HF (--verify) and transformers
    reproduces the consolidated model's logits."""
    from biomamba.train.synthetic_data import SyntheticTokens
    from tests.train.launch import TINY, losses, torchrun

    source = tiny_mamba2(vocab=512, d_model=64, seed=21)
    hf_dir = export_to(loaded(source), tmp_path / "hf", "hf")
    run_dir = tmp_path / "run"
    proc = torchrun(2, TINY, ["max_steps=2", "log_every=1", "eval.every_steps=0", "eval.at_end=false",
                              "checkpoint.every_steps=2", "parallel.precision=fp32", "schedule.warmup_steps=1",
                              "data.seq_len=32", "data.micro_batch_size=8", "parallel.tensor_parallel=2",
                              "parallel.zero_stage=1", "model.pad_vocab_size_multiple=16",
                              f"init.from_pretrained={hf_dir}", f"run_dir={run_dir}"])
    assert "kept 512 of 512 embedding rows" in proc.stdout
    batch = SyntheticTokens(512, 32, 8, 0, 1, seed=1234).micro_batch(0)
    with torch.no_grad():
        logits = source(batch["input_ids"])
        want = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1)).item()
    assert abs(losses(run_dir)[1] - want) <= 1e-5 * abs(want)

    out = tmp_path / "hf_back"
    assert run_cli(run_dir, "--to", "hf", "--out", out, "--verify", "--verify-tol", "1e-5") == 0
    src = read_source(run_dir)
    assert src.meta["layout"]["tp"] == 2 and src.config.is_mamba2
    ours = MambaLM(src.config)
    ours.load_state_dict(src.state_dict)
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    ids = torch.randint(0, 512, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (hf(ids).logits - ours.eval()(ids)).abs().max().item() <= 1e-5
