"""Mamba-2 LM: config, mamba_ssm layout, recurrent step == full forward, and parity with transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from biomamba.config import ConfigError
from biomamba.convert.hf import hf_config_from_ours, hf_state_dict_from_ours, ours_config_from_hf
from biomamba.model import MambaConfig, MambaLM, param_count

REPO = Path(__file__).resolve().parents[2]


def tiny(vocab=1003, **ssm):
    ssm = {"layer": "Mamba2", "d_state": 16, "headdim": 16, "ngroups": 2, "chunk_size": 8, **ssm}
    return MambaConfig(d_model=64, n_layer=3, vocab_size=vocab, ssm_cfg=ssm, pad_vocab_size_multiple=16,
                       scan_chunk_size=8)


def test_defaults_are_mamba_ssm_mamba2s():
    cfg = MambaConfig(ssm_cfg={"layer": "Mamba2"}).validate()
    want = {"d_state": 128, "d_conv": 4, "expand": 2, "headdim": 64, "ngroups": 1, "chunk_size": 256,
            "rmsnorm": True, "norm_before_gate": False, "dt_min": 0.001, "dt_max": 0.1, "dt_init_floor": 1e-4,
            "dt_limit": (0.0, float("inf")), "D_has_hdim": False, "bias": False, "conv_bias": True}
    assert {k: cfg.ssm(k) for k in want} == want
    assert (cfg.nheads, cfg.d_inner) == (24, 1536)
    assert not MambaConfig().is_mamba2 and MambaConfig().d_state == 16  # Mamba-1 stays the default


@pytest.mark.parametrize("ssm, match", [
    ({"headdim": 48}, "headdim"),
    ({"ngroups": 5}, "ngroups"),
    ({"dt_rank": 4}, "unknown key"),
    ({"d_ssm": 64}, "d_ssm"),
    ({"layer": "Mamba3"}, "ssm_cfg.layer"),
])
def test_bad_mamba2_configs_are_refused(ssm, match):
    with pytest.raises(ConfigError, match=match):
        MambaConfig(d_model=64, ssm_cfg={"layer": "Mamba2", **ssm}).validate()


def test_layout_and_state_dict_of_mamba_ssm_load_as_they_are(tmp_path):
    """mamba_ssm's own MambaLMHeadModel (built in a subprocess) has our names and shapes; its config.json
    and state dict load strictly into ours."""
    cfg = tiny()
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("_mamba_ssm_mamba2.py")),
                           json.dumps(cfg.to_mamba_ssm_dict()), str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    back = MambaConfig.from_mamba_ssm_dict(json.loads((tmp_path / "config.json").read_text()))
    assert back.to_mamba_ssm_dict() == cfg.to_mamba_ssm_dict()
    ours = MambaLM(back)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {k: tuple(v.shape) for k, v in theirs.items()}
    ours.load_state_dict(theirs, strict=True)
    stored = sum(v.numel() for k, v in theirs.items() if k != "lm_head.weight")  # tied head
    assert param_count(back) == ours.num_parameters() == stored


@pytest.mark.parametrize("ssm", [{}, {"ngroups": 1, "D_has_hdim": True, "norm_before_gate": True},
                                 {"rmsnorm": False, "dt_limit": (0.0, 0.5)}])
def test_step_and_prefill_equal_full_forward(ssm):
    cfg = tiny(**ssm)
    m = MambaLM(cfg).init_weights(0).eval()
    x = torch.randint(0, cfg.vocab_size, (2, 21), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = m(x)
        caches = m.allocate_cache(2)
        logits = [m(x[:, :2], caches=caches)]  # prefill shorter than d_conv
        logits += [m.step(x[:, i : i + 1], caches) for i in range(2, 21)]
    torch.testing.assert_close(torch.cat(logits, 1), full, rtol=1e-5, atol=1e-5)
    ref = MambaLM(MambaConfig(**{**cfg.to_dict(), "scan_impl": "reference"}))
    ref.load_state_dict(m.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ref.eval()(x), full, rtol=1e-5, atol=1e-5)


def test_generate_uses_the_recurrent_path():
    cfg = tiny()
    m = MambaLM(cfg).init_weights(3).eval()
    prompt = torch.randint(0, cfg.vocab_size, (2, 6), generator=torch.Generator().manual_seed(1))
    out = m.generate(prompt, max_new_tokens=8)
    ids = prompt
    with torch.no_grad():
        for _ in range(8):  # no cache: the full forward over the whole prefix each time
            ids = torch.cat([ids, m(ids)[:, -1, : cfg.vocab_size].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, ids)


transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("vocab, ngroups", [(1003, 2), (1024, 1)])
def test_logits_and_greedy_tokens_match_hf_mamba2(vocab, ngroups):
    cfg = tiny(vocab, ngroups=ngroups)
    ours = MambaLM(cfg).init_weights(1).eval()
    hf = transformers.Mamba2ForCausalLM(hf_config_from_ours(cfg)).eval()
    hf.load_state_dict(hf_state_dict_from_ours(ours.state_dict()), strict=True)
    x = torch.randint(0, vocab, (2, 37), generator=torch.Generator().manual_seed(2))  # several chunks, partial last
    with torch.no_grad():
        a, b = ours(x), hf(x).logits
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    prompt = x[:1, :7]
    g_ours = ours.generate(prompt, max_new_tokens=12)
    g_hf = hf.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert torch.equal(g_ours, g_hf)
    back = ours_config_from_hf(hf.config.to_dict())
    assert back.is_mamba2 and param_count(back) == param_count(cfg)
    assert {k: back.ssm(k) for k in ("d_state", "headdim", "ngroups", "chunk_size")} == \
        {k: cfg.ssm(k) for k in ("d_state", "headdim", "ngroups", "chunk_size")}
    assert (back.vocab_size, back.padded_vocab_size) == (cfg.vocab_size, cfg.padded_vocab_size)


def test_hf_export_refuses_what_transformers_cannot_express():
    with pytest.raises(ValueError, match="norm_before_gate"):
        hf_config_from_ours(tiny(norm_before_gate=True))


def test_gradients_match_hf_mamba2():
    """Training gradients (our mixer recomputes conv1d→SSD→gated norm in the backward) equal transformers'."""
    cfg = tiny(1024)
    ours = MambaLM(cfg).init_weights(4)
    hf = transformers.Mamba2ForCausalLM(hf_config_from_ours(cfg))
    hf.load_state_dict(hf_state_dict_from_ours(ours.state_dict()), strict=True)
    x = torch.randint(0, 1024, (2, 29), generator=torch.Generator().manual_seed(5))
    ours(x).logsumexp(-1).mean().backward()
    hf(x).logits.logsumexp(-1).mean().backward()
    theirs = dict(hf_state_dict_from_ours({k: p for k, p in ours.named_parameters()}))
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        hf_name = next(k for k, v in theirs.items() if v is p)
        torch.testing.assert_close(p.grad, hf_params[hf_name].grad, rtol=1e-4, atol=1e-6, msg=name)
