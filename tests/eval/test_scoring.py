"""CausalLMScorer on a bigram LM with known probabilities."""

from __future__ import annotations

import pytest
import torch

from biomamba.eval.scoring import CausalLMScorer

from .toy_models import BigramLM, WordTokenizer


@pytest.fixture
def toy():
    tok = WordTokenizer(["a", "b", "c", "d"])
    lm = BigramLM(tok)
    lm.set_next("a", {"b": 0.7, "c": 0.2})
    lm.set_next("b", {"c": 0.6, "<eos>": 0.3})
    lm.set_next("c", {"d": 0.9})
    lm.set_next("d", {"<eos>": 0.8})
    return tok, lm


def test_logprob_is_the_sum_of_known_token_logprobs(toy):
    tok, lm = toy
    scorer = CausalLMScorer(lm)
    got = scorer.logprob(tok.encode("a"), tok.encode("b c"))
    assert got == pytest.approx(lm.logprob("a", "b") + lm.logprob("b", "c"), abs=1e-6)
    assert got == pytest.approx(float(torch.log(torch.tensor(0.7 * 0.6))), abs=1e-6)


def test_batched_logprobs_equal_single_calls(toy):
    tok, lm = toy
    scorer = CausalLMScorer(lm, pad_id=tok.pad_id)
    prompt = tok.encode("d a")
    conts = [tok.encode("b"), tok.encode("c d <eos>"), tok.encode("b c d")]
    batched = scorer.logprobs(prompt, conts)
    assert batched == pytest.approx([scorer.logprob(prompt, c) for c in conts], abs=1e-6)
    with pytest.raises(ValueError, match="at least one token"):
        scorer.logprobs(prompt, [[]])


def test_padded_vocabulary_slots_are_ignored(toy):
    tok, lm = toy

    def padded(ids):  # three untrained extra slots with large logits
        logits = lm(ids)
        return torch.cat([logits, torch.full((*logits.shape[:-1], 3), 50.0)], -1)

    plain = CausalLMScorer(lm).next_token_logprobs(tok.encode("a"))
    sliced = CausalLMScorer(padded, vocab_size=tok.vocab_size).next_token_logprobs(tok.encode("a"))
    torch.testing.assert_close(plain, sliced)
    assert float(sliced.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="vocab_size"):
        CausalLMScorer(lm, vocab_size=tok.vocab_size + 1).logits(torch.tensor([[1]]))


def test_greedy_generation_stops_before_eos(toy):
    tok, lm = toy
    scorer = CausalLMScorer(lm)
    assert tok.decode(scorer.generate(tok.encode("a"), 10, tok.eos_id)) == "b c d"
    assert tok.decode(scorer.generate(tok.encode("a"), 2, tok.eos_id)) == "b c"
    assert scorer.generate(tok.encode("a"), 0, tok.eos_id) == []


def test_generate_fn_is_used_and_trimmed_at_eos(toy):
    tok, lm = toy
    calls = []

    def fake_generate(ids, max_new_tokens, eos_id):
        calls.append((ids.tolist(), max_new_tokens, eos_id))
        return torch.tensor([ids[0].tolist() + tok.encode("c <eos> <eos>")])

    scorer = CausalLMScorer(lm, generate_fn=fake_generate)
    assert tok.decode(scorer.generate(tok.encode("a b"), 3, tok.eos_id)) == "c"
    assert calls == [([tok.encode("a b")], 3, tok.eos_id)]
