"""Deterministic order: every random choice is a pure function of its coordinates.

Each generator is seeded from ``(seed, purpose, ...coordinates)`` through
``numpy.random.SeedSequence``, never from a running RNG, so any position of the
loader (epoch, shard slot, document, batch) can be recomputed on resume without
replaying what came before.

The in-shard shuffle is a classic shuffle buffer (webdataset's ``shuffle``
stage, for instance), but simulated on *indices* first: the emission order of a
shard is computed up front from the manifest's document count, and
:func:`reorder` then streams the shard into that order holding at most
``buffer_size`` documents.  Unlike a live buffer (webdataset's, torchdata's)
this has no hidden state: resuming at emission ``j`` only needs ``j``.
"""

from __future__ import annotations

import zlib
from typing import Iterator, TypeVar

import numpy as np

SHARDS, DOCS, MIX = 1, 2, 3  # purpose tags: one independent stream of randomness per use
T = TypeVar("T")


def name_key(name: str) -> int:
    """Stable integer for a dataset name (insensitive to its position in the mixture list)."""
    return zlib.crc32(name.encode("utf-8"))


def rng(seed: int, *coords: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *map(int, coords)])))


def shard_order(seed: int, dataset: int, epoch: int, n_shards: int, shuffle: bool) -> np.ndarray:
    """Order in which a dataset's shards are visited in ``epoch`` (a new permutation per epoch)."""
    if not shuffle:
        return np.arange(n_shards)
    return rng(seed, SHARDS, dataset, epoch).permutation(n_shards)


def buffered_shuffle_order(n: int, buffer_size: int, gen: np.random.Generator) -> np.ndarray:
    """Emission order of a shuffle buffer of ``buffer_size`` over items ``0..n-1`` read in order.

    Steady state: pick a random slot, emit its item, refill the slot with the
    next item; at the end, emit what is left in random order.  Item ``order[i]``
    is always among the first ``buffer_size + i`` items read.
    """
    if n <= 1 or buffer_size <= 1:
        return np.arange(n)
    k = min(buffer_size, n)
    buf = list(range(k))
    out = []
    nxt = k
    for slot in gen.integers(0, k, size=n - k).tolist():
        out.append(buf[slot])
        buf[slot] = nxt
        nxt += 1
    tail = np.asarray(buf)[gen.permutation(k)]
    return np.concatenate([np.asarray(out, dtype=np.int64), tail.astype(np.int64)])


def doc_order(
    seed: int, dataset: int, epoch: int, shard: int, stream: int, n: int, buffer_size: int, shuffle: bool
) -> np.ndarray:
    """Emission order of the ``n`` documents a stream reads from one shard in one epoch."""
    if not shuffle:
        return np.arange(n)
    return buffered_shuffle_order(n, buffer_size, rng(seed, DOCS, dataset, epoch, shard, stream))


def reorder(items: Iterator[tuple[int, T]], order: np.ndarray, start: int = 0) -> Iterator[tuple[int, T]]:
    """Yield ``(j, item order[j])`` for ``j >= start`` from ``items`` = ``(index, item)`` in index order.

    Items already emitted before ``start`` are dropped as they stream past (the
    caller's items should be cheap to skip: raw bytes, decoded only when
    yielded).  With ``order`` from :func:`buffered_shuffle_order` at most
    ``buffer_size`` items are held at once.
    """
    emitted = np.zeros(len(order), dtype=bool)
    emitted[order[:start]] = True
    held: dict[int, T] = {}
    it = iter(items)
    for j in range(start, len(order)):
        want = int(order[j])
        while want not in held:
            try:
                idx, item = next(it)
            except StopIteration:
                raise IndexError(f"stream ended before item {want} (expected {len(order)} items)") from None
            if not emitted[idx]:
                held[idx] = item
        yield j, held.pop(want)
    for idx, _ in it:  # lets the source check its own end (a shard longer than its manifest entry)
        if idx < len(order):
            continue  # emitted before ``start``
        raise IndexError(f"stream has item {idx} beyond the expected {len(order)}")
