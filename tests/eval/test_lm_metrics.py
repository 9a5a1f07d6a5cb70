"""LM metrics: -100 never scored, padding cannot change results, bits-per-byte arithmetic."""

from __future__ import annotations

import math

import pytest
import torch

from biomamba.eval.lm_metrics import (
    LMStats,
    bioasq_texts,
    evaluate_texts,
    nll_sum,
    read_jsonl_texts,
    text_windows,
)
from biomamba.eval.prompting import IGNORE_INDEX

from .toy_models import BigramLM, WordTokenizer


def test_ignored_positions_are_never_scored():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 11)
    labels = torch.tensor([[1, 2, IGNORE_INDEX, 4, IGNORE_INDEX], [IGNORE_INDEX, 7, 8, 9, 10]])
    logp = torch.log_softmax(logits, -1)
    expected = -sum(float(logp[b, t, labels[b, t]]) for b in range(2) for t in range(5) if labels[b, t] >= 0)
    total, n = nll_sum(logits, labels)
    assert n == 7 and total == pytest.approx(expected, rel=1e-6)
    logits[labels == IGNORE_INDEX] = 1e4  # garbage where nothing is scored changes nothing
    assert nll_sum(logits, labels)[0] == pytest.approx(expected, rel=1e-6)


def test_uniform_model_gives_log_vocab_and_exact_bits_per_byte(tokenizer):
    vocab = tokenizer.vocab_size
    texts = ["Insulin lowers glucose.", "µg/mL of β-cell peptide"]
    result = evaluate_texts(lambda ids: torch.zeros(*ids.shape, vocab), tokenizer, texts, batch_size=2)
    tokens = sum(len(tokenizer.encode(t)) + 1 for t in texts)  # each text plus its EOS
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    assert nbytes > sum(len(t) for t in texts)  # bytes, not characters
    assert (result["tokens"], result["bytes"]) == (tokens, nbytes)
    assert result["cross_entropy"] == pytest.approx(math.log(vocab))
    assert result["perplexity"] == pytest.approx(vocab)
    assert result["bits_per_byte"] == pytest.approx(tokens * math.log(vocab) / (math.log(2) * nbytes))


def test_bits_per_byte_formula():
    stats = LMStats(tokens=10, bytes=40, nll_sum=20.0).to_dict()
    assert stats["cross_entropy"] == 2.0 and stats["perplexity"] == pytest.approx(math.exp(2))
    assert stats["bits_per_byte"] == pytest.approx(20.0 / (math.log(2) * 40))
    with pytest.raises(ValueError, match="nothing was scored"):
        LMStats().to_dict()


def test_windows_score_every_target_once():
    tokens = list(range(10, 20))
    for max_length, stride in [(4, 2), (4, 4), (3, 1), (100, None)]:
        scored = []
        for inputs, labels in text_windows(tokens, 0, max_length, stride):
            assert len(inputs) == len(labels) <= max_length
            scored += [y for y in labels if y != IGNORE_INDEX]
        assert scored == tokens + [0]
    with pytest.raises(ValueError, match="stride"):
        list(text_windows(tokens, 0, 4, 5))


def test_windowing_and_padding_do_not_change_a_bigram_model():
    tok = WordTokenizer("the cell divides and the nucleus splits into two".split())
    lm = BigramLM(tok)
    torch.manual_seed(1)
    lm.table.normal_()
    texts = ["the cell divides", "the nucleus splits into two and the cell divides and the cell divides", "two"]
    reference = evaluate_texts(lm, tok, texts, max_length=64, batch_size=1)
    for max_length, stride, batch in [(64, None, 3), (4, None, 2), (5, 2, 3)]:
        got = evaluate_texts(lm, tok, texts, max_length=max_length, stride=stride, batch_size=batch)
        assert got["tokens"] == reference["tokens"]
        assert got["nll_sum"] == pytest.approx(reference["nll_sum"], rel=1e-6)


def test_text_sources(tmp_path):
    from biomamba.eval.bioasq.data import Question, Snippet

    qs = [
        Question("a", "b", "yesno", snippets=[Snippet("s1"), Snippet("s1 "), Snippet(" ")], ideal_answers=["i1"]),
        Question("c", "d", "summary", snippets=[Snippet("s2")], ideal_answers=["i1", "i2"]),
    ]
    assert bioasq_texts(qs) == {"bioasq_snippets": ["s1", "s2"], "bioasq_ideal_answers": ["i1", "i2"]}
    path = tmp_path / "held_out.jsonl"
    path.write_text('{"text": "one"}\n\n{"text": "two"}\n{"text": "three"}\n')
    assert read_jsonl_texts(path, limit=2) == ["one", "two"]
    path.write_text('{"title": "no text"}\n')
    with pytest.raises(ValueError, match=":1: record has no string field 'text'"):
        read_jsonl_texts(path)
