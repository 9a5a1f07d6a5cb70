"""Validation: token cross-entropy, perplexity and bits per byte, with padding never scored.

Bits per byte = total nats / (ln 2 × UTF-8 bytes covered by the scored tokens): unlike
perplexity it does not depend on the tokenizer, so runs with different vocabularies compare.
"""

from __future__ import annotations

import math

import torch

from .distributed import collective_cpu
from .loss import token_nll


@torch.no_grad()
def evaluate(model, batches, dims, max_batches: int | None = None, autocast_dtype=None) -> dict:
    device = dims.device
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64)  # nll, tokens, bytes
    try:
        for i, batch in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            ids = batch["input_ids"].to(device)
            labels = batch["labels"].to(device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(ids)
            nll, mask = token_nll(logits, labels, dims)
            totals += torch.tensor([nll.sum().item(), mask.sum().item(), batch["bytes"].sum().item()], dtype=torch.float64)
    finally:
        model.train(was_training)
    totals = collective_cpu(totals, group=dims.dp_group)  # TP peers saw the same batches: reduce over DP only
    nll, tokens, nbytes = totals.tolist()
    if tokens == 0:
        return {"val_tokens": 0}
    loss = nll / tokens
    return {
        "val_loss": loss,
        "val_ppl": math.exp(min(loss, 50.0)),
        "val_bpb": nll / (math.log(2) * nbytes) if nbytes else float("nan"),
        "val_tokens": int(tokens),
        "val_bytes": int(nbytes),
    }
