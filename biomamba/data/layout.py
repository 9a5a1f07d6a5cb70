"""The global window order, and which part of it a data-parallel rank delivers.

Global order
------------
Training reads ``N = data.logical_streams`` logical streams (:mod:`.stream`).  Window
``w`` of the whole run (counted from the start of training, over all DP ranks) is
window ``w // N`` of stream ``w % N``, and global batch ``t`` of ``G`` windows is
windows ``[t*G, (t+1)*G)``.  Nothing here depends on the number of DP ranks, the
micro-batch size or gradient accumulation: the order is a pure function of
``(seed, epoch, position)`` and ``N``.

Assignment to ranks
-------------------
A loader that starts at global position ``P`` (its *base*: windows already consumed by
the job) on DP rank ``r`` of ``D`` delivers windows ``P + r + D*q``, ``q = 0, 1, ...``;
its micro-batch ``k`` holds ``q`` in ``[k*B, (k+1)*B)``.  With every rank at ``k``
micro-batches, the job has consumed exactly windows ``[0, P + D*B*k)``, so any split of
a global batch over ranks, micro-batches and accumulation steps reads the same windows.
With ``D`` dividing ``N`` the rank touches exactly the ``N/D`` streams
``g ≡ P + r (mod D)`` and no other rank does, so each stream's sequential state lives in
one process.  A resume under another ``D`` (or ``B``) takes every saved stream state,
re-bases at the saved position and continues there: no window twice, none skipped.
This is MosaicML Streaming's idea of canonical nodes (a fixed logical layout, mapped onto
however many physical ranks there are), applied to sequential streams.
"""

from __future__ import annotations

from dataclasses import dataclass


def stream_windows(position: int, g: int, n_streams: int) -> int:
    """Windows of stream ``g`` among global windows ``[0, position)``."""
    return max(0, (position - g + n_streams - 1) // n_streams)


@dataclass(frozen=True)
class Layout:
    n_streams: int
    dp_rank: int
    dp_size: int
    batch_size: int
    base: int = 0

    @property
    def streams_per_rank(self) -> int:
        return self.n_streams // self.dp_size

    def window(self, q: int) -> int:
        """Global index of this rank's local window ``q``."""
        return self.base + self.dp_rank + self.dp_size * q

    def batch_windows(self, k: int) -> list[int]:
        return [self.window(k * self.batch_size + i) for i in range(self.batch_size)]

    def streams(self) -> list[int]:
        """The logical streams this rank reads, in the order its windows cycle through them."""
        first = self.base + self.dp_rank
        return [(first + self.dp_size * s) % self.n_streams for s in range(self.streams_per_rank)]

    def worker_of(self, g: int, n_workers: int) -> int:
        """DataLoader worker serving stream ``g`` (its place in the cycle, round-robin over workers)."""
        return ((g - self.base - self.dp_rank) % self.n_streams) // self.dp_size % n_workers

    def position(self, batches: int) -> int:
        """Global windows consumed by the job once every rank delivered ``batches`` micro-batches."""
        return self.base + self.dp_size * self.batch_size * batches
