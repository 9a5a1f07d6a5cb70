"""Fixtures for the conversion tests: two small real tokenizers, tiny models, and short training runs.

Tokenizers are trained once per session on the packaged PubMed sample: a SentencePiece BPE
model (400 pieces, byte fallback) and a byte-level BPE ``tokenizer.json`` (350 tokens, GPT-NeoX
style ``<|endoftext|>``/``<|padding|>``). Training runs (torchrun, CPU) are session-scoped and
started only by the slow tests that need them.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from .helpers import LAYOUTS, TRAIN_COMMON, corpus_lines


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def spm_path(tmp_path_factory) -> Path:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()), model_writer=buf, vocab_size=400, model_type="bpe",
        character_coverage=1.0, byte_fallback=True, split_digits=True, pad_id=0, unk_id=1, bos_id=2, eos_id=3,
        minloglevel=2, num_threads=1,
    )
    out = tmp_path_factory.mktemp("spm") / "tokenizer.model"
    out.write_bytes(buf.getvalue())
    return out


@pytest.fixture(scope="session")
def hf_json_path(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # as GPT-NeoX's; exports drop it
    trainer = trainers.BpeTrainer(vocab_size=350, special_tokens=["<|endoftext|>", "<|padding|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer)
    out = tmp_path_factory.mktemp("hfjson") / "tokenizer.json"
    tok.save(str(out))
    return out


@pytest.fixture(scope="session")
def training_runs(tmp_path_factory, spm_path) -> dict[str, Path]:
    """The same 3-step training in two layouts (ZeRO-3 TP=2 DP=1; ZeRO-1 TP=1 DP=2), with a tokenizer."""
    from tests.train.launch import TINY, torchrun

    out = {}
    for name, extra in LAYOUTS.items():
        run_dir = tmp_path_factory.mktemp(name)
        torchrun(2, TINY, TRAIN_COMMON + extra + [f"run_dir={run_dir}", f"tokenizer={spm_path}"])
        out[name] = run_dir
    return out
