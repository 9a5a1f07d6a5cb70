"""Which documents each read stream owns in an epoch.

A *stream* is the unit of reading and of resume state: the job has a fixed
number ``G`` of logical streams (``data.logical_streams``), dealt out to DP
ranks by :mod:`.layout`, and DataLoader workers serve whole streams.  Neither
DP nor tensor-parallel ranks appear here, so which documents a stream reads
does not depend on the parallel layout.

With at least ``G`` shards, stream ``g`` reads shards ``order[g::G]`` whole.
With fewer, every stream reads every shard but keeps only the documents whose
index in the epoch (shards concatenated in the epoch's order) is ``≡ g (mod G)``
(sample-level split), so every stream gets ``floor`` or ``ceil`` of
``documents / G`` and none idles, even with shards smaller than ``G``.  Either way the ``G``
streams partition the epoch: each document once, none lost.

webdataset's ``split_by_node``/``split_by_worker`` do the shard-level half of
this, but they consume a shard list without recording a position in it and
cannot split below a shard, so the assignment is computed here instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class ShardSlice:
    """The documents ``i`` of shard ``shard`` with ``i % stride == offset`` (``count`` of them)."""

    shard: int
    offset: int
    stride: int
    count: int


def kept(n_docs: int, offset: int, stride: int) -> int:
    """How many of ``range(n_docs)`` satisfy ``i % stride == offset``."""
    return max(0, (n_docs - offset + stride - 1) // stride)


def stream_slices(docs_per_shard: Sequence[int], order: Sequence[int], stream: int, n_streams: int) -> list[ShardSlice]:
    """The shard slices stream ``stream`` (of ``n_streams``) reads in one epoch, in reading order."""
    if not 0 <= stream < n_streams:
        raise ValueError(f"stream {stream} outside 0..{n_streams - 1}")
    if len(order) >= n_streams:
        return [ShardSlice(int(k), 0, 1, int(docs_per_shard[k])) for k in order[stream::n_streams]]
    out = []
    before = 0  # documents of the shards earlier in this epoch's order
    for k in order:
        n = int(docs_per_shard[k])
        offset = (stream - before) % n_streams
        c = kept(n, offset, n_streams)
        if c:
            out.append(ShardSlice(int(k), offset, n_streams, c))
        before += n
    return out


def min_docs_per_stream(docs_per_shard: Sequence[int], n_streams: int) -> int:
    """Fewest documents any stream gets in an epoch (independent of the epoch's shard order
    in the sample-level case; a lower bound of one shard's worth in the shard-level case)."""
    if not docs_per_shard:
        return 0
    if len(docs_per_shard) >= n_streams:
        return min(docs_per_shard)
    return sum(docs_per_shard) // n_streams
