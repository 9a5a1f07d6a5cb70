"""Token-level next-token loss that never scores ignored positions (label -100), TP-aware."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def token_nll(logits: torch.Tensor, labels: torch.Tensor, tp_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token negative log-likelihood (0 where ignored) and the mask of scored tokens.

    With tensor parallelism ``logits`` hold this rank's vocabulary slice and megatron's
    vocab-parallel cross-entropy combines the slices (identical result on every TP rank).
    """
    mask = labels != IGNORE_INDEX
    safe = labels.masked_fill(~mask, 0)
    if tp_size > 1:
        from megatron.core.tensor_parallel import vocab_parallel_cross_entropy

        nll = vocab_parallel_cross_entropy(logits.float(), safe)
    else:
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none")
        nll = nll.view_as(labels)
    return nll * mask, mask
