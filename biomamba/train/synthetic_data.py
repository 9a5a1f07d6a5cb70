"""Deterministic synthetic token batches for equivalence tests and benchmarks (no shards needed).

The global batch of optimizer step ``s`` is the fixed set of samples
``[s·G, (s+1)·G)`` with ``G = micro_batch · grad_accum · dp``; data-parallel rank ``r``
takes micro-batch ``m`` as samples ``s·G + (r·ga + m)·mb + [0, mb)``. Any split of the
same global batch over DP ranks and accumulation steps therefore sees the same samples,
which is what the engine's equivalence tests compare. Each sample is a learnable
sequence (an arithmetic progression modulo the vocabulary with a random start and stride).
"""

from __future__ import annotations

import torch


class SyntheticTokens:
    def __init__(self, vocab_size: int, seq_len: int, micro_batch: int, grad_accum: int, dp_rank: int, dp_size: int, seed: int = 0):
        self.vocab, self.seq_len, self.mb, self.ga = vocab_size, seq_len, micro_batch, grad_accum
        self.dp_rank, self.dp_size, self.seed = dp_rank, dp_size, seed
        self.position = 0  # micro-batches this rank has handed out

    def sample(self, index: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        start = int(torch.randint(0, self.vocab, (1,), generator=g))
        stride = int(torch.randint(1, 8, (1,), generator=g))
        return (start + stride * torch.arange(self.seq_len + 1)) % self.vocab

    def micro_batch(self, k: int) -> dict:
        step, m = divmod(k, self.ga)
        G = self.mb * self.ga * self.dp_size
        first = step * G + (self.dp_rank * self.ga + m) * self.mb
        x = torch.stack([self.sample(first + i) for i in range(self.mb)])
        return {"input_ids": x[:, :-1], "labels": x[:, 1:], "bytes": torch.full((self.mb,), 4 * self.seq_len)}

    def __iter__(self):
        while True:
            batch = self.micro_batch(self.position)
            self.position += 1
            yield batch

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict, allow_mismatch: bool = False) -> None:
        self.position = int(state["position"])
