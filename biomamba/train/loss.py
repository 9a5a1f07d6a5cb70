"""Token-level next-token loss that never scores ignored positions (label -100), TP-aware."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def token_nll(logits: torch.Tensor, labels: torch.Tensor, dims=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token negative log-likelihood (0 where ignored) and the mask of scored tokens.

    With tensor parallelism (``dims.tp > 1``, :class:`biomamba.parallel.ParallelDims`) ``logits``
    hold this rank's vocabulary slice and the vocabulary-parallel cross-entropy of
    :mod:`biomamba.parallel` combines the slices (identical result on every TP rank).
    """
    mask = labels != IGNORE_INDEX
    safe = labels.masked_fill(~mask, 0)
    if dims is not None and dims.tp > 1:
        from biomamba.parallel import vocab_parallel_nll

        nll = vocab_parallel_nll(logits.float(), safe)
    else:
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none")
        nll = nll.view_as(labels)
    return nll * mask, mask
