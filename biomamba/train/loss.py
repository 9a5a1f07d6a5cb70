"""Token-level next-token loss that never scores ignored positions (label -100), TP-aware."""

from __future__ import annotations

import torch

from biomamba.ops.xent import IGNORE_INDEX, token_nll_full_vocab  # noqa: F401  (IGNORE_INDEX: re-exported)


def token_nll(logits: torch.Tensor, labels: torch.Tensor, dims=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token negative log-likelihood (0 where ignored) and the mask of scored tokens.

    With tensor parallelism (``dims.tp > 1``, :class:`biomamba.parallel.ParallelDims`) ``logits``
    hold this rank's vocabulary slice and the vocabulary-parallel cross-entropy of
    :mod:`biomamba.parallel` combines the slices (identical result on every TP rank).
    """
    if dims is not None and dims.tp > 1:
        from biomamba.parallel import vocab_parallel_token_nll

        return vocab_parallel_token_nll(logits, labels)
    return token_nll_full_vocab(logits, labels)
