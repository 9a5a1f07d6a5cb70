"""Validation: token cross-entropy, perplexity and bits per byte, with padding never scored.

Bits per byte = total nats / (ln 2 × UTF-8 bytes covered by the scored tokens): unlike
perplexity it does not depend on the tokenizer, so runs with different vocabularies compare.
"""

from __future__ import annotations

import torch

from biomamba.eval.lm_stats import LMStats

from .distributed import collective_cpu
from .loss import token_nll


@torch.no_grad()
def evaluate(model, batches, dims, max_batches: int | None = None, autocast_dtype=None) -> dict:
    device = dims.device
    was_training = model.training
    model.eval()
    stats = LMStats()
    try:
        for i, batch in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            ids = batch["input_ids"].to(device)
            labels = batch["labels"].to(device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(ids)
            nll, mask = token_nll(logits, labels, dims)
            stats.add_batch(nll, mask, batch["bytes"])
    finally:
        model.train(was_training)
    # TP peers saw the same batches: reduce over DP only.
    stats = stats.reduced(lambda t: collective_cpu(t, group=dims.dp_group))
    if stats.tokens == 0:
        return {"val_tokens": 0}
    return {**stats.short("val"), "val_tokens": stats.tokens, "val_bytes": stats.bytes}
