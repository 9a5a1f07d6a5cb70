"""The one language-model metrics accumulator: summed nll, scored tokens, bytes -> loss, perplexity, bits per byte.

Used by training validation (:mod:`biomamba.train.evaluation`), the fine-tuning dev loss
(:mod:`biomamba.finetune.dev_eval`) and :mod:`biomamba.eval.lm_metrics`. Only scored targets count
(label -100 never does); bits per byte = nll / (ln 2 x UTF-8 bytes) compares models across tokenizers.
Parallel runs sum their ranks' totals with :meth:`LMStats.reduced` (DP peers; TP peers saw the same batches).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

# exp() of a larger mean loss (nats) is reported as exp(50): an untrained or diverged model, not an overflow.
MAX_LOG_PERPLEXITY = 50.0


def perplexity(cross_entropy: float) -> float:
    """exp of a mean nll per token (nats), capped at exp(:data:`MAX_LOG_PERPLEXITY`); nan stays nan."""
    return math.exp(min(cross_entropy, MAX_LOG_PERPLEXITY))


@dataclass
class LMStats:
    tokens: int = 0
    bytes: int = 0
    nll_sum: float = 0.0

    def add(self, nll_sum: float, tokens: int, nbytes: int) -> None:
        self.nll_sum += float(nll_sum)
        self.tokens += int(tokens)
        self.bytes += int(nbytes)

    def add_batch(self, nll: torch.Tensor, mask: torch.Tensor, nbytes: torch.Tensor) -> None:
        """One batch as :func:`biomamba.train.loss.token_nll` returns it, with the batch's ``bytes``."""
        self.add(nll.sum().item(), mask.sum().item(), nbytes.sum().item())

    def reduced(self, reduce: Callable[[torch.Tensor], torch.Tensor] | None) -> "LMStats":
        """Totals summed over ranks: ``reduce`` all-reduces a float64 [nll, tokens, bytes] tensor (None: as is)."""
        if reduce is None:
            return LMStats(self.tokens, self.bytes, self.nll_sum)
        nll, tokens, nbytes = reduce(torch.tensor([self.nll_sum, self.tokens, self.bytes], dtype=torch.float64)).tolist()
        return LMStats(int(tokens), int(nbytes), nll)

    @property
    def cross_entropy(self) -> float:
        """Mean nll per scored token (nats); nan when nothing was scored."""
        return self.nll_sum / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        return perplexity(self.cross_entropy)

    @property
    def bits_per_byte(self) -> float:
        return self.nll_sum / (math.log(2) * self.bytes) if self.bytes else float("nan")

    def short(self, prefix: str) -> dict[str, float]:
        """``{prefix}_loss``, ``{prefix}_ppl``, ``{prefix}_bpb`` (the training and dev log keys)."""
        return {f"{prefix}_loss": self.cross_entropy, f"{prefix}_ppl": self.perplexity,
                f"{prefix}_bpb": self.bits_per_byte}

    def to_dict(self) -> dict:
        if self.tokens == 0 or self.bytes == 0:
            raise ValueError("nothing was scored: no target tokens or no text bytes")
        return {
            "tokens": self.tokens,
            "bytes": self.bytes,
            "nll_sum": self.nll_sum,
            "cross_entropy": self.cross_entropy,
            "perplexity": self.perplexity,
            "bits_per_byte": self.bits_per_byte,
        }
