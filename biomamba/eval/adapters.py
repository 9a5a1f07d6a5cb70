"""Wrap our MambaLM or a Hugging Face causal LM as a :class:`~biomamba.eval.scoring.CausalLMScorer`.

Both give greedy generation through the model's own recurrent/cached
``generate`` (O(1) work per new token for Mamba) rather than the scorer's
full-forward fallback.  ``vocab_size`` should be the tokenizer's vocabulary
size: logits of padded vocabulary slots beyond it are ignored -- in generation
too, where a model whose embedding has more rows than the tokenizer has ids
(e.g. mamba-130m's 50280 for GPT-NeoX's 50277) could otherwise emit an id the
tokenizer cannot decode.
"""

from __future__ import annotations

import os

import torch

from biomamba.eval.scoring import CausalLMScorer


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def recurrent_greedy(model, ids: torch.Tensor, max_new_tokens: int, eos_id: int | None, vocab: int) -> torch.Tensor:
    """Greedy continuation of ``ids[1, L]`` through a MambaLM's layer caches, over ids below ``vocab`` only.

    Returns ``[1, L + n]`` (prompt included), stopping after EOS.
    """
    caches = model.allocate_cache(ids.shape[0])
    logits = model(ids, caches=caches, num_last_tokens=1)[:, -1, :vocab]
    new = []
    for i in range(max_new_tokens):
        nxt = logits.argmax(-1)
        new.append(nxt)
        if (eos_id is not None and bool((nxt == eos_id).all())) or i + 1 == max_new_tokens:
            break
        logits = model.step(nxt[:, None], caches)[:, -1, :vocab]
    return torch.cat([ids, torch.stack(new, dim=1)], dim=1) if new else ids


def mamba_lm_scorer(model, vocab_size: int | None = None, pad_id: int = 0, name: str = "mamba") -> CausalLMScorer:
    """Scorer over a :class:`biomamba.model.MambaLM` (put in eval mode here)."""
    model.eval()
    vocab = vocab_size if vocab_size is not None else model.config.vocab_size

    def generate(ids: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> torch.Tensor:
        return recurrent_greedy(model, ids, max_new_tokens, eos_id, vocab)

    return CausalLMScorer(
        lambda ids: model(ids),
        vocab_size=vocab,
        device=_device_of(model),
        generate_fn=generate,
        pad_id=pad_id,
        name=name,
    )


def hf_causal_lm_scorer(
    model_or_path,
    vocab_size: int | None = None,
    pad_id: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    name: str | None = None,
) -> CausalLMScorer:
    """Scorer over a ``transformers`` causal LM object or a local model directory (loaded offline)."""
    if isinstance(model_or_path, (str, os.PathLike)):
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_or_path, local_files_only=True, dtype=dtype)
        name = name or os.path.basename(os.path.normpath(str(model_or_path)))
    else:
        model = model_or_path
    if device is not None:
        model.to(device)
    model.eval()
    head = model.get_output_embeddings()
    width = head.weight.shape[0] if head is not None else None
    # Padded vocabulary slots (ids the tokenizer does not have) are never generated.
    padded = list(range(vocab_size, width)) if vocab_size is not None and width and width > vocab_size else None

    def generate(ids: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> torch.Tensor:
        return model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos_id,
            pad_token_id=eos_id if eos_id is not None else pad_id,
            suppress_tokens=padded,
        )

    return CausalLMScorer(
        lambda ids: model(input_ids=ids).logits,
        vocab_size=vocab_size,
        device=_device_of(model),
        generate_fn=generate,
        pad_id=pad_id,
        name=name or type(model).__name__,
    )
