"""Recurrent generation: prefill once, then O(1) work per new token through the layer caches."""

from __future__ import annotations

import torch


def sample_next(
    logits: torch.Tensor,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """logits (batch, V) -> token ids (batch,). ``temperature <= 0`` is greedy."""
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the mass of the tokens before it already reaches top_p (the first always stays).
        drop = probs.cumsum(-1) - probs >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model,
    input_ids: torch.Tensor,
    max_new_tokens: int = 32,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Continue each row of ``input_ids`` (batch, L; all rows the same length).

    Returns (batch, L + n) with n <= max_new_tokens; a row that emitted EOS is
    padded with EOS afterwards, and generation stops once every row has.
    Logits of padded-vocabulary slots (ids >= config.vocab_size) are never sampled.
    """
    if input_ids.dim() != 2 or input_ids.shape[1] == 0:
        raise ValueError("input_ids must be (batch, length>=1); rows of a batch must share one length")
    was_training = model.training
    model.eval()
    try:
        batch = input_ids.shape[0]
        vocab = model.config.vocab_size
        caches = model.allocate_cache(batch)
        logits = model(input_ids, caches=caches, num_last_tokens=1)[:, -1]
        out = [input_ids]
        done = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
        for i in range(max_new_tokens):
            logits = logits[..., :vocab]
            nxt = sample_next(logits, temperature, top_k, top_p, generator)
            if eos_token_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, eos_token_id), nxt)
                done |= nxt == eos_token_id
            out.append(nxt[:, None])
            if eos_token_id is not None and bool(done.all()):
                break
            if i + 1 < max_new_tokens:
                logits = model.step(nxt[:, None], caches)[:, -1]
        return torch.cat(out, dim=1)
    finally:
        model.train(was_training)
