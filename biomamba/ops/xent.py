"""Next-token loss of the LM head, optionally computed a chunk of positions at a time.

The head's logits are the largest activation of a small model at long sequences: (tokens, vocab)
in the activation dtype, then log-softmax's fp32 copy, and in the backward two more fp32
(tokens, vocab) gradients (130m at 2048 tokens: 0.4 GB each, ~1.2 GB at the loss's backward).
:func:`chunked_head_nll` runs ``head_nll`` on ``chunk_tokens`` positions at a time under
activation checkpointing, so autograd keeps only the head's input and the per-token nll, and the
backward recomputes one chunk's logits at a time: at most one chunk's (chunk, vocab) buffers
exist at once, for one extra head matmul per step. Values equal the unchunked loss up to the
rounding of the matmul's blocking.

Why torch's checkpoint and not a hand-written fused linear + cross-entropy (Liger-Kernel's
``LigerFusedLinearCrossEntropyLoss`` is GPU/Triton only): checkpoint recomputes whatever the head
is, the plain tied ``nn.Linear`` or the tensor-parallel vocabulary-sliced head with its own
cross-entropy, and it restores autocast and RNG state in the recomputation by itself.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100

NllFn = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


def ignore_mask(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels with ignored positions set to 0, the mask of scored positions)."""
    mask = labels != IGNORE_INDEX
    return labels.masked_fill(~mask, 0), mask


def token_nll_full_vocab(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token nll in fp32 (0 where the label is ``IGNORE_INDEX``) and the mask of scored tokens."""
    safe, mask = ignore_mask(labels)
    nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none")
    return nll.view_as(labels) * mask, mask


def chunked_head_nll(hidden: torch.Tensor, labels: torch.Tensor, head_nll: NllFn,
                     chunk_tokens: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``head_nll(hidden, labels)`` -> (nll, mask), each (batch, L); ``chunk_tokens`` > 0 splits the
    positions into chunks recomputed in the backward (see the module docstring); 0 runs it whole."""
    if chunk_tokens < 0:
        raise ValueError(f"loss chunk must be >= 0 tokens (0 = the whole sequence at once), got {chunk_tokens}")
    length = hidden.shape[1]
    if chunk_tokens == 0 or chunk_tokens >= length:
        return head_nll(hidden, labels)
    # Without autograd (evaluation) a chunk's logits are freed as soon as its nll exists: no recomputation.
    run = (lambda *a: checkpoint(head_nll, *a, use_reentrant=False)) if torch.is_grad_enabled() else head_nll
    parts = [run(hidden[:, s:s + chunk_tokens], labels[:, s:s + chunk_tokens]) for s in range(0, length, chunk_tokens)]
    return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=1)
