"""DataLoader workers of the training and validation loaders.

Exact resume with workers
-------------------------
Worker ``j`` of ``W`` owns the rank's streams whose place in the cycle is ``≡ j (mod W)``
(:meth:`Layout.worker_of`) and, for every micro-batch ``k`` from ``k0`` on, yields one
*piece*: the rows of ``k`` that its streams fill (possibly none).  torch's DataLoader
hands out worker outputs round-robin in order (``in_order=True``), so the loader
receives pieces ``(k0, 0), (k0, 1), ..., (k0, W-1), (k0 + 1, 0), ...`` and assembles
micro-batch ``k`` from ``W`` consecutive pieces, whatever ``W`` is — including 0 (one
piece per batch, read in this process).  Every piece carries its streams' positions
*after* the batch; the loader records them only when it delivers that batch, so
:meth:`TokenLoader.state_dict` never counts batches that are merely prefetched.
(torchdata's StatefulDataLoader solves the same problem by snapshotting worker states
every N batches and replaying; here positions are exact per batch and cheap, so no
replay of delivered batches is needed.)
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .config import DataConfig
from .layout import Layout
from .stream import TrainPlan, TrainStream
from .val import ValPlan, chunk_batches


def _worker() -> tuple[int, int]:
    info = get_worker_info()
    return (info.num_workers, info.id) if info is not None else (1, 0)


def _as_is(item):
    """DataLoader ``collate_fn``: leave the worker's numpy arrays alone (see :func:`unpack`)."""
    return item


def unpack(packed: np.ndarray) -> dict:
    """int32 ``[B, L + 2]`` (windows + bytes) -> the contract's int64 ``input_ids``, ``labels``, ``bytes``.

    Workers send one int32 numpy array per batch, pickled through the worker
    queue.  A torch tensor would travel as a shared-memory segment plus a file
    descriptor handed over a socket: measured on 2 cores, ~1 ms of CPU per
    batch against ~0.2 ms for the array, which made the IPC cost as much as
    reading the shards.
    """
    L = packed.shape[1] - 2
    packed = torch.from_numpy(packed)
    as_long = dict(dtype=torch.int64, memory_format=torch.contiguous_format)
    return {
        "input_ids": packed[:, :L].to(**as_long),
        "labels": packed[:, 1 : L + 1].to(**as_long),
        "bytes": packed[:, L + 1].to(**as_long),
    }


class _TrainWork(IterableDataset):
    """What each DataLoader worker runs: its streams' rows of every micro-batch from ``first_batch`` on,
    ``chunk`` micro-batches per message."""

    def __init__(self, plan: TrainPlan, layout: Layout, streams: dict, first_batch: int, stop: int | None,
                 n_workers: int):
        self.plan, self.layout, self.streams = plan, layout, streams
        self.first_batch, self.stop, self.n_workers = first_batch, stop, n_workers
        # Each worker fills 1/W of every batch; sending W batches' worth per message keeps one
        # message per delivered batch, as when a worker built whole batches (the queue's per-message
        # cost measured as much as packing a 512-token batch on 2 cores).
        self.chunk = n_workers

    def piece(self, mine: dict[int, TrainStream], k: int) -> dict:
        """This worker's rows of micro-batch ``k``, and its streams' states after them."""
        N = self.plan.n_streams
        rows: dict[int, list[int]] = {}
        for i, w in enumerate(self.layout.batch_windows(k)):
            if w % N in mine:
                rows.setdefault(w % N, []).append(i)
        idx, parts, docs, states = [], [], [], {}
        for g, at in rows.items():  # a stream's rows in one batch are its next windows, in order
            packed, spans = mine[g].next_windows(len(at))
            idx += at
            parts.append(packed)
            docs += spans or []
            states[g] = mine[g].state()
        empty = np.empty((0, self.plan.seq_len + 2), dtype=np.int32)
        return {"rows": idx, "packed": np.concatenate(parts) if parts else empty,
                "docs": docs if self.plan.track_documents else None, "states": states}

    def __iter__(self) -> Iterator[dict]:
        _, wid = _worker()
        plan, lay = self.plan, self.layout
        mine = {g: TrainStream(plan, g, st["datasets"], st["windows"])
                for g, st in self.streams.items() if lay.worker_of(g, self.n_workers) == wid}
        k = self.first_batch
        while self.stop is None or k < self.stop:
            n = self.chunk if self.stop is None else min(self.chunk, self.stop - k)
            batches = [self.piece(mine, k + i) for i in range(n)]
            verified = [v for st in mine.values() for v in st.pop_newly_verified()] if mine else []
            yield {"k": k, "batches": batches, "verified": verified}
            k += n


class _ValWork(IterableDataset):
    def __init__(self, plan: ValPlan):
        self.plan = plan

    def __iter__(self) -> Iterator[dict]:
        n_workers, wid = _worker()
        chunk = self.plan.dp_rank * self.plan.chunks_per_rank + wid
        for input_ids, labels, nbytes in chunk_batches(self.plan, chunk):
            meta = {"verified": self.plan.reader.pop_newly_verified()}
            yield {"input_ids": input_ids, "labels": labels, "bytes": nbytes, "_meta": meta}


def _iterate(work: IterableDataset, cfg: DataConfig, num_workers: int) -> Iterator[dict]:
    if num_workers == 0:
        yield from work
        return
    # batch_size=None: workers build whole micro-batches (packing is sequential per stream).
    it = iter(
        DataLoader(
            work,
            batch_size=None,
            collate_fn=_as_is,
            num_workers=num_workers,
            prefetch_factor=cfg.prefetch_factor,
            persistent_workers=False,
            in_order=True,
            multiprocessing_context=cfg.worker_start_method,
        )
    )
    try:
        yield from it
    finally:
        # Stop the workers now rather than when the iterator is garbage collected: after a
        # worker error the iterator sits in a reference cycle with the traceback, and a
        # shutdown from the cycle collector waits 5 s per worker for queues it already closed.
        shutdown = getattr(it, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
