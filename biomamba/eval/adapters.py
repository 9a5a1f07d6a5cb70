"""Wrap our MambaLM or a Hugging Face causal LM as a :class:`~biomamba.eval.scoring.CausalLMScorer`.

Both give greedy generation through the model's own recurrent/cached
``generate`` (O(1) work per new token for Mamba) rather than the scorer's
full-forward fallback.  ``vocab_size`` should be the tokenizer's vocabulary
size: logits of padded vocabulary slots beyond it are ignored.
"""

from __future__ import annotations

import os

import torch

from biomamba.eval.scoring import CausalLMScorer


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def mamba_lm_scorer(model, vocab_size: int | None = None, pad_id: int = 0, name: str = "mamba") -> CausalLMScorer:
    """Scorer over a :class:`biomamba.model.MambaLM` (put in eval mode here)."""
    model.eval()
    vocab = vocab_size if vocab_size is not None else model.config.vocab_size

    def generate(ids: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> torch.Tensor:
        return model.generate(ids, max_new_tokens=max_new_tokens, temperature=0.0, eos_token_id=eos_id)

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

    def generate(ids: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> torch.Tensor:
        return model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos_id,
            pad_token_id=eos_id if eos_id is not None else pad_id,
        )

    return CausalLMScorer(
        lambda ids: model(input_ids=ids).logits,
        vocab_size=vocab_size,
        device=_device_of(model),
        generate_fn=generate,
        pad_id=pad_id,
        name=name or type(model).__name__,
    )
