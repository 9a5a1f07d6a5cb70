"""Test models whose answers are known in advance: a word-level tokenizer and a bigram LM.

The bigram LM's next-token distribution depends only on the previous token,
and each row is set by hand, so what the decoding code must answer follows
directly from the table.
"""

from __future__ import annotations

import math
import re

import torch


class WordTokenizer:
    """Whitespace tokens (newline is a token); unknown words map to <unk>."""

    def __init__(self, words: list[str]):
        self.vocab = ["<pad>", "<unk>", "<eos>", "\n"] + [w for w in dict.fromkeys(words) if w != "\n"]
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.pad_id, self.eos_id, self.bos_id = 0, 2, None
        self.vocab_size = len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(t, 1) for t in re.findall(r"\n|[^\s]+", text)]

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.vocab[i] for i in ids)


class BigramLM(torch.nn.Module):
    """logits[b, t] = table[input_ids[b, t]]; rows default to uniform."""

    def __init__(self, tokenizer: WordTokenizer):
        super().__init__()
        self.tok = tokenizer
        self.register_buffer("table", torch.zeros(tokenizer.vocab_size, tokenizer.vocab_size))

    def set_next(self, previous: str, probs: dict[str, float]) -> None:
        """P(next | previous): the listed probabilities, the rest spread evenly over the other tokens."""
        v = self.tok.vocab_size
        rest = (1.0 - sum(probs.values())) / (v - len(probs))
        row = torch.full((v,), math.log(rest) if rest > 0 else -1e9)
        for word, p in probs.items():
            row[self.tok.ids[word]] = math.log(p)
        self.table[self.tok.ids[previous]] = row

    def logprob(self, previous: str, nxt: str) -> float:
        return float(torch.log_softmax(self.table[self.tok.ids[previous]], -1)[self.tok.ids[nxt]])

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids]
