"""The LM head's loss computed a chunk of positions at a time equals the whole-sequence loss."""

from __future__ import annotations

import pytest
import torch

from biomamba.model import MambaConfig, MambaLM
from biomamba.ops.xent import IGNORE_INDEX, chunked_head_nll, token_nll_full_vocab
from biomamba.train.loss import token_nll

MAMBA1 = dict(d_model=32, n_layer=2, vocab_size=503, ssm_cfg={"d_state": 8})
MAMBA2 = dict(d_model=64, n_layer=2, vocab_size=503, scan_chunk_size=8,
              ssm_cfg={"layer": "Mamba2", "d_state": 16, "headdim": 16, "ngroups": 2, "chunk_size": 8})


def _batch(vocab, b=2, L=37, seed=3):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (b, L + 1), generator=g)
    labels = ids[:, 1:].clone()
    labels[0, :5] = IGNORE_INDEX  # a masked prompt
    labels[1, -3:] = IGNORE_INDEX  # and masked padding
    return ids[:, :-1], labels


def _loss_and_grads(model, ids, labels, chunk):
    model.zero_grad(set_to_none=True)
    nll, mask = model(ids, labels=labels, loss_chunk_tokens=chunk)
    (nll.sum() / mask.sum()).backward()
    return nll.detach(), mask, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("kw", [MAMBA1, MAMBA2], ids=["mamba1", "mamba2"])
@pytest.mark.parametrize("chunk", [1, 7, 16, 36])
def test_chunked_loss_equals_whole_sequence(kw, chunk):
    model = MambaLM(MambaConfig(**kw)).init_weights(0)
    ids, labels = _batch(model.config.vocab_size)
    want_nll, want_mask, want_grads = _loss_and_grads(model, ids, labels, 0)
    # The whole-sequence path is exactly the loop's logits -> token_nll.
    ref_nll, ref_mask = token_nll(model(ids), labels)
    torch.testing.assert_close(want_nll, ref_nll.detach(), rtol=0, atol=0)
    assert torch.equal(want_mask, ref_mask) and int(want_mask.sum()) == 2 * 37 - 8
    nll, mask, grads = _loss_and_grads(model, ids, labels, chunk)
    assert torch.equal(mask, want_mask)
    assert (nll[~mask] == 0).all()
    torch.testing.assert_close(nll, want_nll, rtol=1e-5, atol=1e-6)
    assert grads.keys() == want_grads.keys() and "backbone.embedding.weight" in grads  # the tied head
    for name, g in grads.items():
        torch.testing.assert_close(g, want_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_chunked_loss_without_autograd_and_under_bf16_autocast():
    model = MambaLM(MambaConfig(**MAMBA1)).init_weights(1)
    ids, labels = _batch(model.config.vocab_size, L=20)
    with torch.no_grad():
        whole, _ = model(ids, labels=labels)
        torch.testing.assert_close(model(ids, labels=labels, loss_chunk_tokens=6)[0], whole, rtol=1e-5, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, _, g_whole = _loss_and_grads(model, ids, labels, 0)
        nll, _, g_chunk = _loss_and_grads(model, ids, labels, 6)  # recomputed under the same autocast
    assert nll.dtype == torch.float32
    for name, g in g_chunk.items():
        torch.testing.assert_close(g, g_whole[name], rtol=2e-2, atol=2e-3, msg=name)


def test_negative_chunk_is_refused():
    h, y = torch.zeros(1, 4, 2), torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="loss chunk must be >= 0"):
        chunked_head_nll(h, y, lambda a, b: token_nll_full_vocab(a, b), -1)
