"""HF ⇄ ours round trips are lossless; exports open in transformers with our logits (fp32, CPU)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from biomamba.convert.source import read_source
from biomamba.convert.weights import load_weights

from .helpers import export_to, loaded, run_cli, tiny_model

transformers = pytest.importorskip("transformers")


def _hf_files(d):
    return json.loads((d / "config.json").read_text()), load_weights(d)


def _assert_same_tensors(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for k, v in a.items():
        assert v.dtype == b[k].dtype and torch.equal(v, b[k]), k


def _roundtrip(src, tmp_path):
    assert run_cli(src, "--to", "biomamba", "--out", tmp_path / "ours") == 0
    assert run_cli(tmp_path / "ours", "--to", "hf", "--out", tmp_path / "back") == 0
    return tmp_path / "back"


def test_transformers_made_dir_roundtrips_bit_identically(tmp_path):
    """A directory written by transformers itself (not by us) → ours → HF: same tensors, same config.json."""
    cfg = transformers.MambaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, state_size=8,
                                   bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    transformers.MambaForCausalLM(cfg).save_pretrained(tmp_path / "src")
    back = _roundtrip(tmp_path / "src", tmp_path)
    (c0, w0), (c1, w1) = _hf_files(tmp_path / "src"), _hf_files(back)
    _assert_same_tensors(w0, w1)
    assert c1 == c0


@pytest.mark.parametrize("tie", [True, False])
def test_our_export_roundtrips_and_keeps_our_config(tmp_path, tie):
    """Untied head and an unpadded vocabulary (1003 → 1008 rows) survive HF → ours → HF."""
    model = tiny_model(vocab=1003, tie=tie)
    export_to(loaded(model), tmp_path / "src", "hf")
    back = _roundtrip(tmp_path / "src", tmp_path)
    (c0, w0), (c1, w1) = _hf_files(tmp_path / "src"), _hf_files(back)
    _assert_same_tensors(w0, w1)
    assert c1 == c0
    assert ("lm_head.weight" in w0) == (not tie)
    assert _effective(read_source(back).config) == _effective(model.config)
    direct = export_to(loaded(model), tmp_path / "direct", "biomamba")
    assert read_source(direct).config == model.config  # exactly, BioMamba-only fields included


def _effective(cfg) -> dict:
    """The config with mamba_ssm's defaults filled into ssm_cfg (HF spells every field out)."""
    from biomamba.model.config import SSM_DEFAULTS

    return {**cfg.to_dict(), "ssm_cfg": {**SSM_DEFAULTS, **cfg.ssm_cfg}}


def test_hf_export_logits_and_generate_match_ours(tmp_path, hf_json_path):
    model = tiny_model(vocab=350, seed=3)
    out = export_to(loaded(model), tmp_path / "hf", "hf", tokenizer=str(hf_json_path))
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    ids = torch.randint(0, 350, (2, 23), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids), rtol=0, atol=1e-5)
    prompt = ids[:1, :5]
    theirs = hf.generate(prompt, max_new_tokens=6, do_sample=False, eos_token_id=None)
    ours = model.generate(prompt, max_new_tokens=6)
    assert theirs.tolist() == ours.tolist()


def test_hf_json_tokenizer_exported_for_autotokenizer(tmp_path, hf_json_path):
    from biomamba.tokenizer import load_tokenizer

    tok = load_tokenizer(hf_json_path)
    out = export_to(loaded(tiny_model(vocab=350)), tmp_path / "hf", "hf", tokenizer=str(hf_json_path))
    auto = transformers.AutoTokenizer.from_pretrained(str(out))
    text = "BACKGROUND: Metformin (500 mg) lowered HbA1c; p < 0.05.\nβ-cells — <|endoftext|> end"
    assert auto.encode(text, add_special_tokens=False) == tok.encode(text)
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["bos_token_id"], cfg["eos_token_id"], cfg["pad_token_id"]) == (tok.bos_id, tok.eos_id, tok.pad_id)
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["eos_token_id"] == tok.eos_id
    # the exported tokenizer.json is re-serialized (other bytes), yet still identified as the original
    from biomamba.convert.source import tokenizer_hashes

    shipped = load_tokenizer(out)
    assert shipped.content_hash != tok.content_hash
    assert read_source(out).tokenizer_hash == tok.content_hash
    assert tok.content_hash in tokenizer_hashes(shipped, out)


def test_sharded_export_has_an_index_and_loads(tmp_path):
    model = tiny_model(vocab=512, seed=5)
    out = export_to(loaded(model), tmp_path / "hf", "hf", max_shard_size="40KB")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and not (out / "model.safetensors").exists()
    assert all((out / s).is_file() for s in shards)
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    ids = torch.randint(0, 512, (1, 17), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids), rtol=0, atol=1e-5)
    _assert_same_tensors(read_source(out).state_dict, loaded(model).state_dict)


def test_bf16_export_is_bf16_and_verifies(tmp_path):
    from biomamba.convert.export import export

    model = tiny_model(vocab=512, seed=6)
    report = export(loaded(model), tmp_path / "hf", "hf", dtype="bf16", verify_tol=1e-5)
    assert report["passed"] and report["max_abs_logit_diff"] <= 1e-5 * max(1, report["max_abs_logit"])
    assert report["dtype_rounding"] > 0  # the precision given up is reported, not hidden
    w = load_file(tmp_path / "hf" / "model.safetensors")
    assert {v.dtype for v in w.values()} == {torch.bfloat16}
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["dtype"] == "bfloat16"
