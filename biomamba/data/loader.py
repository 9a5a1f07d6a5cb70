"""Training and validation loaders: torch DataLoader workers running read streams.

Exact resume with workers
-------------------------
Each DP rank has ``S = streams_per_rank`` streams (:mod:`biomamba.data.stream`)
and its batch ``k`` is batch ``k // S`` of stream ``k % S``.  Worker ``j`` of
``W`` (``W`` divides ``S``) produces batches ``k0 + j, k0 + j + W, ...`` where
``k0`` is the number of batches already delivered; torch's DataLoader hands
out worker outputs round-robin in order (``in_order=True``), so the delivered
sequence is exactly ``k0, k0 + 1, ...`` whatever ``W`` is — including 0 (read
in this process).  Every batch carries its producer stream's position *after*
the batch; the loader records it only when it delivers that batch, so
:meth:`TokenLoader.state_dict` never counts batches that are merely prefetched.
(torchdata's StatefulDataLoader solves the same problem by snapshotting
worker states every N batches and replaying; here positions are exact per
batch and cheap, so no replay of delivered batches is needed.)

Resuming costs, per stream and dataset, one sequential re-read of the current
shard up to the saved document (skipped documents are not decoded), plus the
sha256 of that shard unless ``verify=never``.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from biomamba.config import ConfigError

from .config import DataConfig
from .format import ShardFormatError, read_manifest
from .mixture import normalised
from .shard_reader import ShardReader, remember_verified
from .sharding import min_docs_per_stream
from .state import STATE_FORMAT, LoaderStateError, check_state, describe_changes, fingerprint
from .stream import START, DatasetSource, TrainPlan, TrainStream
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
    """What each DataLoader worker runs: its share of the streams, from the loader's positions."""

    def __init__(self, plan: TrainPlan, positions: list[dict], first_batch: int, stop: int | None):
        self.plan, self.positions, self.first_batch, self.stop = plan, positions, first_batch, stop

    def __iter__(self) -> Iterator[dict]:
        n_workers, wid = _worker()
        S = self.plan.streams_per_rank
        streams: dict[int, TrainStream] = {}
        k = self.first_batch + wid
        while self.stop is None or k < self.stop:
            s = k % S
            if s not in streams:
                streams[s] = TrainStream(self.plan, s, self.positions[s]["datasets"], batches=k // S)
            stream = streams[s]
            batch = {"packed": stream.next_batch()}
            batch["_meta"] = {"index": k, "stream": s, "state": stream.state(), "verified": stream.pop_newly_verified()}
            yield batch
            k += n_workers


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


class TokenLoader:
    """Training batches of one DP rank, forever or until the ``max_tokens`` budget.

    Iterating continues from the last delivered batch (a fresh ``iter()`` after
    a ``break`` or a :meth:`load_state_dict` picks up exactly there).
    """

    def __init__(self, cfg: DataConfig, plan: TrainPlan):
        self.cfg = cfg
        self.plan = plan
        self.fingerprint = fingerprint(plan)
        self._batches = 0
        start = {src.name: list(START) for src in plan.sources}
        self._streams = [{"datasets": {k: list(v) for k, v in start.items()}} for _ in range(plan.streams_per_rank)]
        tokens_per_batch = plan.batch_size * plan.seq_len * plan.dp_size
        self.num_batches = None if cfg.max_tokens is None else math.ceil(cfg.max_tokens / tokens_per_batch)

    @property
    def batches_done(self) -> int:
        """Micro-batches this rank has delivered since the start of training."""
        return self._batches

    def epochs(self) -> dict[str, int]:
        """Per dataset, the epoch the slowest of this rank's streams is in (for logging)."""
        return {src.name: min(st["datasets"][src.name][0] for st in self._streams) for src in self.plan.sources}

    def __iter__(self) -> Iterator[dict]:
        work = _TrainWork(self.plan, [dict(s) for s in self._streams], self._batches, self.num_batches)
        for batch in _iterate(work, self.cfg, self.cfg.num_workers):
            meta = batch.pop("_meta")
            if meta["index"] != self._batches:  # guards the round-robin assumption documented above
                raise RuntimeError(f"loader delivered batch {meta['index']} where {self._batches} was due")
            self._streams[meta["stream"]] = meta["state"]
            remember_verified(meta["verified"])
            self._batches += 1
            yield unpack(batch["packed"])

    def state_dict(self) -> dict:
        """JSON-serialisable position of this DP rank (store one per rank in the checkpoint)."""
        return {
            "format": STATE_FORMAT,
            "fingerprint": dict(self.fingerprint),
            "batches": self._batches,
            "streams": [{"datasets": {k: list(v) for k, v in s["datasets"].items()}} for s in self._streams],
        }

    def load_state_dict(self, state: dict, allow_mismatch: bool = False) -> None:
        """Continue exactly after the state's last batch; refuse if the data or layout changed.

        With ``allow_mismatch=True`` a changed state is accepted approximately:
        the batch count (hence the ``max_tokens`` budget) carries over, and
        every stream restarts each dataset at the beginning of the earliest
        epoch any saved stream was in (so part of that epoch is seen again;
        datasets new to the mixture start at epoch 0).
        """
        check_state(state)
        changes = describe_changes(state["fingerprint"], self.fingerprint)
        if changes and not allow_mismatch:
            raise LoaderStateError(
                "loader state does not match this configuration — " + "; ".join(changes) + ". Resume with the "
                "data and data.* settings of the checkpoint for an exact continuation, or pass "
                "allow_mismatch=True to restart the current epochs under the new settings."
            )
        if len(state["streams"]) != self.plan.streams_per_rank and not changes:
            raise LoaderStateError(
                f"loader state holds {len(state['streams'])} streams, its fingerprint says {self.plan.streams_per_rank}"
            )
        self._batches = int(state["batches"])
        if not changes:
            self._streams = [{"datasets": {k: list(v) for k, v in s["datasets"].items()}} for s in state["streams"]]
            return
        warnings.warn("resuming the loader inexactly: " + "; ".join(changes), stacklevel=2)
        epochs = {}
        for src in self.plan.sources:
            saved = [s["datasets"][src.name][0] for s in state["streams"] if src.name in s.get("datasets", {})]
            epochs[src.name] = min(saved) if saved else 0
        self._streams = [
            {"datasets": {name: [e, 0, 0, 0] for name, e in epochs.items()}} for _ in range(self.plan.streams_per_rank)
        ]


class ValLoader:
    """The whole validation split for one DP rank; the same batches on every pass."""

    def __init__(self, cfg: DataConfig, plan: ValPlan):
        self.cfg = cfg
        self.plan = plan

    def __len__(self) -> int:
        return self.plan.batches_per_rank

    def __iter__(self) -> Iterator[dict]:
        for batch in _iterate(_ValWork(self.plan), self.cfg, self.cfg.num_workers):
            remember_verified(batch.pop("_meta")["verified"])
            yield {k: torch.from_numpy(v) for k, v in batch.items()}


def _check_rank(dp_rank: int, dp_size: int) -> None:
    if dp_size < 1 or not 0 <= dp_rank < dp_size:
        raise ValueError(
            f"dp_rank={dp_rank}, dp_size={dp_size}: need 0 <= dp_rank < dp_size "
            "(pass the data-parallel rank and size, not the global ones)"
        )


def build_train_loader(cfg: DataConfig, *, dp_rank: int, dp_size: int, seed: int | None = None) -> TokenLoader:
    """Training loader of data-parallel rank ``dp_rank``; tensor-parallel peers pass the same DP rank."""
    cfg.validate()
    _check_rank(dp_rank, dp_size)
    if seed is not None and seed < 0:
        raise ConfigError(f"seed: must be >= 0, got {seed}")
    S = cfg.streams()
    sources = [DatasetSource.open(ds.resolved_name(), ds.path, cfg.verify) for ds in cfg.datasets]
    for src in sources:
        if min_docs_per_stream(src.docs, S * dp_size) < 1:
            raise ShardFormatError(
                f"dataset {src.name}: {sum(src.docs)} documents in {len(src.docs)} shards cannot feed "
                f"dp_size*streams_per_rank={S * dp_size} streams; lower data.streams_per_rank/num_workers or add data"
            )
    plan = TrainPlan(
        sources=sources,
        probs=normalised([ds.weight for ds in cfg.datasets]),
        seq_len=cfg.seq_len,
        batch_size=cfg.micro_batch_size,
        seed=cfg.seed if seed is None else int(seed),
        shuffle=cfg.shuffle,
        shuffle_buffer=cfg.shuffle_buffer,
        streams_per_rank=S,
        dp_rank=dp_rank,
        dp_size=dp_size,
    )
    return TokenLoader(cfg, plan)


def build_val_loader(cfg: DataConfig, *, dp_rank: int, dp_size: int) -> ValLoader:
    """Validation loader of data-parallel rank ``dp_rank`` over ``cfg.val_path``."""
    cfg.validate()
    _check_rank(dp_rank, dp_size)
    if not cfg.val_path:
        raise ConfigError(
            "data.val_path: not set; point it at the prepared validation split (the folder holding manifest.json)"
        )
    reader = ShardReader(cfg.val_path, read_manifest(cfg.val_path), verify=cfg.verify)
    plan = ValPlan(
        reader=reader,
        seq_len=cfg.seq_len,
        batch_size=cfg.val_micro_batch_size or cfg.micro_batch_size,
        dp_rank=dp_rank,
        dp_size=dp_size,
        chunks_per_rank=max(1, cfg.num_workers),
    )
    return ValLoader(cfg, plan)
