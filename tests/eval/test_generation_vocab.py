"""Generation never emits ids beyond the tokenizer's vocabulary, even when the model's embedding has more rows."""

from __future__ import annotations

import pytest
import torch

from biomamba.eval.adapters import hf_causal_lm_scorer, mamba_lm_scorer
from biomamba.model import MambaConfig, MambaLM

TOKENIZER_VOCAB = 1000


def tempting(head: torch.nn.Module) -> None:
    """Make the ids the tokenizer lacks (>= 1000) the most likely next tokens everywhere."""
    offset = torch.zeros(head.weight.shape[0])
    offset[TOKENIZER_VOCAB:] = 100.0
    head.register_forward_hook(lambda module, inputs, out: out + offset)


def test_mamba_generation_stays_within_the_tokenizer_vocabulary(tokenizer):
    cfg = MambaConfig(d_model=32, n_layer=2, vocab_size=1200, ssm_cfg={"d_state": 8}, tie_embeddings=False)
    model = MambaLM(cfg).init_weights(0)
    tempting(model.lm_head)
    prompt = tokenizer.encode("Question: Does metformin lower glucose?")
    assert int(model(torch.tensor([prompt]))[0, -1].argmax()) >= TOKENIZER_VOCAB  # the trap is set
    scorer = mamba_lm_scorer(model, vocab_size=TOKENIZER_VOCAB)
    fast = scorer.generate(prompt, 8, tokenizer.eos_id)
    assert fast and all(t < TOKENIZER_VOCAB for t in fast)
    assert fast == [t for t in scorer._greedy(prompt, 8, tokenizer.eos_id)][: len(fast)]  # same as full forwards
    tokenizer.decode(fast)


def test_hf_generation_stays_within_the_tokenizer_vocabulary(tokenizer):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.MambaConfig(vocab_size=1200, hidden_size=32, state_size=8, num_hidden_layers=2,
                                   eos_token_id=tokenizer.eos_id, pad_token_id=0, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.MambaForCausalLM(cfg).eval()
    tempting(model.lm_head)
    prompt = tokenizer.encode("Question: Does metformin lower glucose?")
    scorer = hf_causal_lm_scorer(model, vocab_size=TOKENIZER_VOCAB)
    out = scorer.generate(prompt, 8, tokenizer.eos_id)
    assert out and all(t < TOKENIZER_VOCAB for t in out)
