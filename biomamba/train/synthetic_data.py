"""Deterministic synthetic token batches for equivalence tests and benchmarks (no shards needed).

Sample ``n`` of the run (counted over all ranks from the start of training) is a pure
function of ``(seed, n)``, and the samples are dealt out like the real loader's windows
(:mod:`biomamba.data.layout`): a source that starts at global position ``P`` on
data-parallel rank ``r`` of ``D`` hands out samples ``P + r + D*q``, its micro-batch ``k``
holding ``q`` in ``[k*mb, (k+1)*mb)``.  Global batch ``t`` of ``G = mb · ga · D`` samples is
therefore samples ``[t·G, (t+1)·G)`` for any split over DP ranks, micro-batches and
accumulation steps — which is what the engine's equivalence tests compare — and the state is
the global sample position, so a resume under another DP size, micro-batch or gradient
accumulation continues at the next sample. Each sample is a learnable sequence (an arithmetic
progression modulo the vocabulary with a random start and stride).
"""

from __future__ import annotations

import torch


class SyntheticTokens:
    def __init__(self, vocab_size: int, seq_len: int, micro_batch: int, dp_rank: int, dp_size: int, seed: int = 0):
        self.vocab, self.seq_len, self.mb = vocab_size, seq_len, micro_batch
        self.dp_rank, self.dp_size, self.seed = dp_rank, dp_size, seed
        self.base = 0  # global samples consumed when this source (re)started
        self.batches = 0  # micro-batches handed out since then

    @property
    def position(self) -> int:
        """Global samples consumed by the job when every rank is where this one is."""
        return self.base + self.dp_size * self.mb * self.batches

    def sample(self, index: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        start = int(torch.randint(0, self.vocab, (1,), generator=g))
        stride = int(torch.randint(1, 8, (1,), generator=g))
        return (start + stride * torch.arange(self.seq_len + 1)) % self.vocab

    def micro_batch(self, k: int) -> dict:
        first = self.base + self.dp_rank + self.dp_size * k * self.mb
        x = torch.stack([self.sample(first + self.dp_size * i) for i in range(self.mb)])
        return {"input_ids": x[:, :-1], "labels": x[:, 1:], "bytes": torch.full((self.mb,), 4 * self.seq_len)}

    def __iter__(self):
        while True:
            batch = self.micro_batch(self.batches)
            self.batches += 1
            yield batch

    def state_dict(self) -> dict:
        return {"samples": self.position}

    def load_state_dict(self, state: dict | list[dict], allow_mismatch: bool = False) -> None:
        """This rank's state, or every rank's (after a change of DP size): all at one position."""
        states = state if isinstance(state, list) else [state]
        if any("samples" not in s for s in states):
            raise ValueError("synthetic data state without 'samples' (written by an older version); "
                             "start a new run_dir")
        positions = {int(s["samples"]) for s in states}
        if len(positions) != 1:
            raise ValueError(f"the ranks' synthetic data states are at different positions {sorted(positions)}")
        self.base, self.batches = positions.pop(), 0
