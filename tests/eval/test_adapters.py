"""Our MambaLM and a Hugging Face causal LM behind the same scorer interface."""

from __future__ import annotations

import pytest
import torch

from biomamba.eval.adapters import hf_causal_lm_scorer, mamba_lm_scorer
from biomamba.eval.lm_metrics import evaluate_texts
from biomamba.model import MambaConfig, MambaLM

VOCAB = 1000  # the test tokenizer's


def manual_logprob(logits_fn, prompt, cont, vocab=VOCAB):
    ids = torch.tensor([prompt + cont])
    logits = logits_fn(ids)[0, :, :vocab].float()
    logp = torch.log_softmax(logits, -1)
    return sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(cont))


@pytest.fixture(scope="module")
def mamba():
    cfg = MambaConfig(d_model=32, n_layer=2, vocab_size=VOCAB, pad_vocab_size_multiple=16, ssm_cfg={"d_state": 8})
    return MambaLM(cfg).init_weights(0)


@pytest.fixture(scope="module")
def hf_mamba():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.MambaConfig(
        vocab_size=1008, hidden_size=32, state_size=8, num_hidden_layers=2, eos_token_id=3, pad_token_id=0
    )
    torch.manual_seed(0)
    return transformers.MambaForCausalLM(cfg).eval()


def check_scorer(scorer, logits_fn, tokenizer):
    prompt = tokenizer.encode("Question: Does metformin raise glucose levels?")
    cont = tokenizer.encode(" yes")
    assert scorer.logprob(prompt, cont) == pytest.approx(manual_logprob(logits_fn, prompt, cont), abs=1e-4)
    assert scorer.next_token_logprobs(prompt).shape == (VOCAB,)
    fast = scorer.generate(prompt, 12, tokenizer.eos_id)  # the model's own recurrent/cached generate
    slow = scorer._greedy(prompt, 12, tokenizer.eos_id)  # one full forward per token
    assert fast == (slow[: slow.index(tokenizer.eos_id)] if tokenizer.eos_id in slow else slow)
    assert all(t < VOCAB for t in fast)


def test_mamba_lm_scorer(mamba, tokenizer):
    scorer = mamba_lm_scorer(mamba)
    assert scorer.vocab_size == VOCAB and scorer.logits(torch.tensor([[5, 6]])).shape == (1, 2, VOCAB)
    with torch.no_grad():
        check_scorer(scorer, mamba, tokenizer)


def test_padding_never_changes_mamba_lm_metrics(mamba, tokenizer):
    scorer = mamba_lm_scorer(mamba)
    texts = ["Insulin lowers blood glucose.", "Bile is produced by the liver and stored in the gallbladder.", "p53"]
    one = evaluate_texts(scorer.logits, tokenizer, texts, batch_size=1)
    batched = evaluate_texts(scorer.logits, tokenizer, texts, batch_size=3)
    assert one["tokens"] == batched["tokens"]
    assert batched["nll_sum"] == pytest.approx(one["nll_sum"], rel=1e-5)


def test_hf_scorer_from_object_and_directory(hf_mamba, tokenizer, tmp_path):
    scorer = hf_causal_lm_scorer(hf_mamba, vocab_size=VOCAB)
    with torch.no_grad():
        check_scorer(scorer, lambda ids: hf_mamba(input_ids=ids).logits, tokenizer)
    hf_mamba.save_pretrained(tmp_path / "tiny-hf-mamba")
    loaded = hf_causal_lm_scorer(tmp_path / "tiny-hf-mamba", vocab_size=VOCAB)
    prompt, cont = tokenizer.encode("Answer:"), tokenizer.encode(" no")
    assert loaded.name == "tiny-hf-mamba"
    assert loaded.logprob(prompt, cont) == pytest.approx(scorer.logprob(prompt, cont), abs=1e-5)


def test_load_mamba_scorer_from_an_hf_directory(tokenizer, sp_model_path, tmp_path):
    import shutil

    from biomamba.convert.hf import hf_config_from_ours, hf_state_dict_from_ours
    from biomamba.eval.model_loading import load_mamba_scorer

    transformers = pytest.importorskip("transformers")
    cfg = MambaConfig(d_model=32, n_layer=2, vocab_size=VOCAB, pad_vocab_size_multiple=16, ssm_cfg={"d_state": 8})
    ours = MambaLM(cfg).init_weights(3)
    hf = transformers.MambaForCausalLM(hf_config_from_ours(cfg)).eval()
    hf.load_state_dict(hf_state_dict_from_ours(ours.state_dict()))
    folder = tmp_path / "hf-model"
    hf.save_pretrained(folder)
    with pytest.raises(ValueError, match="no tokenizer stored"):
        load_mamba_scorer(folder)
    shutil.copy(sp_model_path, folder / "tokenizer.model")
    scorer, tok = load_mamba_scorer(folder)
    assert tok.vocab_size == VOCAB and scorer.name == "hf-model"
    ids = torch.tensor([tokenizer.encode("Statins inhibit HMG-CoA reductase.")])
    with torch.no_grad():
        torch.testing.assert_close(scorer.logits(ids), hf(ids).logits[..., :VOCAB], rtol=1e-4, atol=1e-4)
