"""The validation split as one fixed token stream, cut into equal chunks per DP rank and worker.

The stream is ``[EOS] + doc_0 + doc_1 + ...`` in manifest order (no shuffle):
the leading EOS is the context every other document also gets from its
predecessor, so *every* token of the split is a target exactly once and the
scored bytes add up to the manifest's ``totals.bytes``.

Windows (``seq_len`` targets each, the last one partial) are grouped into
``dp_size * chunks_per_rank`` contiguous chunks of the same number of
micro-batches; chunk ``dp_rank * chunks_per_rank + j`` is read by worker ``j``
of that rank.  Windows past the end of the split are padding (input EOS,
labels -100, 0 bytes), so all DP ranks run the same number of forward passes
and nothing is scored twice.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .packing import Doc, Packer
from .shard_reader import ShardReader

IGNORE = -100


@dataclass
class ValPlan:
    reader: ShardReader
    seq_len: int
    batch_size: int
    dp_rank: int
    dp_size: int
    chunks_per_rank: int

    @property
    def total_tokens(self) -> int:
        return sum(int(e["tokens"]) for e in self.reader.shards)

    @property
    def batches_per_chunk(self) -> int:
        windows = math.ceil(self.total_tokens / self.seq_len)
        return max(1, math.ceil(windows / (self.dp_size * self.chunks_per_rank * self.batch_size)))

    @property
    def batches_per_rank(self) -> int:
        return self.batches_per_chunk * self.chunks_per_rank


def _docs_from(reader: ShardReader, first_shard: int) -> Iterator[Doc]:
    for shard in range(first_shard, len(reader.shards)):
        for _, sample in reader.samples(shard):
            tokens, nbytes = reader.decode(shard, sample)
            yield Doc(tokens, nbytes)


def open_val_stream(reader: ShardReader, start: int) -> tuple[Iterator[Doc], int]:
    """Documents from stream token ``start`` on, and the offset of ``start`` in the first one."""
    if start == 0:
        eos = np.array([reader.eos_id], dtype=reader.dtype)
        return itertools.chain([Doc(eos, 0)], _docs_from(reader, 0)), 0
    skip = start - 1  # position among the documents' tokens (after the leading EOS)
    for shard, entry in enumerate(reader.shards):
        if skip < int(entry["tokens"]):
            break
        skip -= int(entry["tokens"])
    else:
        return iter(()), 0
    docs = _docs_from(reader, shard)
    for doc in docs:
        if skip < len(doc.tokens):
            return itertools.chain([doc], docs), skip
        skip -= len(doc.tokens)
    return iter(()), 0


def chunk_batches(plan: ValPlan, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(input_ids, labels, bytes)`` micro-batches of one chunk, padded past the split's end."""
    B, L = plan.batch_size, plan.seq_len
    start = chunk * plan.batches_per_chunk * B * L
    docs, offset = open_val_stream(plan.reader, start) if start < plan.total_tokens else (iter(()), 0)
    packer = Packer(docs, (), offset)
    for _ in range(plan.batches_per_chunk):
        span, row_bytes = packer.take(B, L)
        buf = np.full(B * L + 1, plan.reader.eos_id, dtype=np.int64)
        buf[: len(span)] = span
        labels = buf[1:].copy()
        labels[max(len(span) - 1, 0) :] = IGNORE
        yield buf[:-1].reshape(B, L), labels.reshape(B, L), row_bytes
