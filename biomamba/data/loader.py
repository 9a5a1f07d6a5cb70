"""Training and validation loaders: torch DataLoader workers running logical read streams.

Which global windows a rank delivers, and from which streams, is :mod:`.layout`.

See :mod:`.workers` for how DataLoader workers keep the resume exact.

Resuming costs, per stream and dataset, one sequential re-read of the current
shard up to the saved document (skipped documents are not decoded), plus the
sha256 of that shard unless ``verify=never``.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from biomamba.config import ConfigError

from .config import DataConfig
from .format import ShardFormatError, read_manifest
from .mixture import normalised
from .shard_reader import ShardReader, remember_verified
from .layout import Layout, stream_windows
from .sharding import min_docs_per_stream
from .state import STATE_FORMAT, LoaderStateError, copy_stream, describe_changes, fingerprint, merge_states
from .stream import START, DatasetSource, TrainPlan
from .val import ValPlan
from .workers import _iterate, _TrainWork, _ValWork, unpack


class TokenLoader:
    """Training batches of one DP rank, forever or until the ``max_tokens`` budget.

    Iterating continues from the last delivered batch (a fresh ``iter()`` after
    a ``break`` or a :meth:`load_state_dict` picks up exactly there).
    """

    def __init__(self, cfg: DataConfig, plan: TrainPlan, document_log: str | Path | None = None):
        self.cfg = cfg
        self.plan = plan
        self.fingerprint = fingerprint(plan)
        self.document_log = Path(document_log) if document_log else None
        self._rebase(0, {g: {"windows": 0, "datasets": {src.name: list(START) for src in plan.sources}}
                         for g in range(plan.n_streams)})

    def _rebase(self, position: int, streams: dict[int, dict]) -> None:
        """Continue at global window ``position`` with these stream states (a superset is fine)."""
        p = self.plan
        self.layout = Layout(p.n_streams, p.dp_rank, p.dp_size, p.batch_size, position)
        self._streams = {g: copy_stream(streams[g]) for g in self.layout.streams()}
        self._batches = 0  # delivered since the base
        self.num_batches = None  # micro-batches left at the base; every rank gets the same number
        if self.cfg.max_tokens is not None:
            budget = math.ceil(self.cfg.max_tokens / p.seq_len)  # global windows
            self.num_batches = max(0, math.ceil((budget - position) / (p.dp_size * p.batch_size)))

    @property
    def position(self) -> int:
        """Global windows consumed by the job when every rank is where this one is."""
        return self.layout.position(self._batches)

    @property
    def batches_done(self) -> int:
        """Micro-batches per rank since the start of training, counted in the current layout."""
        return self.position // (self.plan.dp_size * self.plan.batch_size)

    def epochs(self) -> dict[str, int]:
        """Per dataset, the epoch the slowest of this rank's streams is in (for logging)."""
        streams = self._streams.values()
        return {src.name: min(st["datasets"][src.name][0] for st in streams) for src in self.plan.sources}

    def __iter__(self) -> Iterator[dict]:
        W = min(self.cfg.num_workers, self.layout.streams_per_rank)  # a worker without streams would idle
        work = _TrainWork(self.plan, self.layout, {g: copy_stream(s) for g, s in self._streams.items()},
                          self._batches, self.num_batches, max(1, W))
        pieces = _iterate(work, self.cfg, W)
        log = open(self.document_log, "a") if self.document_log else None  # debug only: see data.log_documents
        try:
            while True:
                group = list(itertools.islice(pieces, max(1, W)))  # one message of every worker
                if not group:
                    return
                # guards the round-robin assumption documented in .workers
                n = len(group[0]["batches"])
                if len(group) < max(1, W) or any(m["k"] != self._batches or len(m["batches"]) != n for m in group):
                    got = [(m["k"], len(m["batches"])) for m in group]
                    raise RuntimeError(f"loader received batches (first, count) {got} where {self._batches} was due")
                for m in group:
                    remember_verified(m["verified"])
                for i in range(n):
                    yield self._assemble([m["batches"][i] for m in group], log)
        finally:
            if log is not None:
                log.close()
            pieces.close()

    def _assemble(self, parts: list[dict], log) -> dict:
        """Micro-batch ``self._batches`` from the workers' pieces; records their streams' states."""
        packed = np.empty((self.plan.batch_size, self.plan.seq_len + 2), dtype=np.int32)
        rows, docs = [], []
        for part in parts:
            packed[part["rows"]] = part["packed"]
            rows += part["rows"]
            docs += part["docs"] or []
            self._streams.update(part["states"])
        if sorted(rows) != list(range(self.plan.batch_size)):
            raise RuntimeError(f"batch {self._batches}: workers filled rows {sorted(rows)}")
        if log is not None:
            windows = self.layout.batch_windows(self._batches)
            log.writelines(json.dumps({"window": windows[i], "docs": d}) + "\n" for i, d in zip(rows, docs))
            log.flush()
        self._batches += 1
        return unpack(packed)

    def state_dict(self) -> dict:
        """JSON-serialisable position of this DP rank (store one per rank in the checkpoint)."""
        return {
            "format": STATE_FORMAT,
            "fingerprint": dict(self.fingerprint),
            "position": self.position,
            "streams": {str(g): copy_stream(s) for g, s in sorted(self._streams.items())},
        }

    def load_state_dict(self, state: dict | list[dict], allow_mismatch: bool = False) -> None:
        """Continue exactly after the state's last batch; refuse if the data or order changed.

        ``state`` is this rank's own state, or the states of every rank of a checkpoint (a
        list): the streams a rank reads depend on the DP size, so after a change of the
        number of DP ranks every rank needs all saved states.  The micro-batch size, DP size
        and gradient accumulation may change: the loader continues at the saved global
        position (see :mod:`.layout`).

        With ``allow_mismatch=True`` a changed order is accepted approximately: the global
        position (hence the ``max_tokens`` budget) carries over, and every stream restarts
        each dataset at the beginning of the earliest epoch any saved stream was in (so part
        of that epoch is seen again; datasets new to the mixture start at epoch 0).
        """
        saved = merge_states(state if isinstance(state, list) else [state])
        changes = describe_changes(saved["fingerprint"], self.fingerprint)
        if changes and not allow_mismatch:
            raise LoaderStateError(
                "loader state does not match this configuration — " + "; ".join(changes) + ". Resume with the "
                "data and data.* settings of the checkpoint for an exact continuation, or pass "
                "allow_mismatch=True (checkpoint.allow_loader_mismatch=true) to restart the current epochs "
                "under the new settings."
            )
        position, streams = int(saved["position"]), {int(g): s for g, s in saved["streams"].items()}
        if not changes:
            need = Layout(self.plan.n_streams, self.plan.dp_rank, self.plan.dp_size, 1, position).streams()
            missing = [g for g in need if g not in streams]
            if missing:
                raise LoaderStateError(
                    f"loader state lacks logical streams {missing[:8]} that DP rank {self.plan.dp_rank} of "
                    f"{self.plan.dp_size} reads from position {position}: after a change of the number of DP "
                    "ranks, pass the states of all ranks of the checkpoint (a list)"
                )
            for g in need:
                if streams[g]["windows"] != stream_windows(position, g, self.plan.n_streams):
                    raise LoaderStateError(f"loader state: stream {g} is at window {streams[g]['windows']}, "
                                           f"global position {position} puts it at "
                                           f"{stream_windows(position, g, self.plan.n_streams)}")
            self._rebase(position, streams)
            return
        warnings.warn("resuming the loader inexactly: " + "; ".join(changes), stacklevel=2)
        epochs = {}
        for src in self.plan.sources:
            found = [s["datasets"][src.name][0] for s in streams.values() if src.name in s.get("datasets", {})]
            epochs[src.name] = min(found) if found else 0
        N = self.plan.n_streams
        self._rebase(position, {g: {"windows": stream_windows(position, g, N),
                                    "datasets": {name: [e, 0, 0, 0] for name, e in epochs.items()}} for g in range(N)})


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


def build_train_loader(cfg: DataConfig, *, dp_rank: int, dp_size: int, seed: int | None = None,
                       document_log: str | Path | None = None) -> TokenLoader:
    """Training loader of data-parallel rank ``dp_rank``; tensor-parallel peers pass the same DP rank.

    ``document_log`` (debug, ``data.log_documents``): append one JSON line per delivered window,
    ``{"window": global index, "docs": [[dataset, epoch, shard, doc, first_token, end_token], ...]}``.
    """
    cfg.validate()
    _check_rank(dp_rank, dp_size)
    if seed is not None and seed < 0:
        raise ConfigError(f"seed: must be >= 0, got {seed}")
    N = cfg.logical_streams
    if N % dp_size:
        raise ConfigError(
            f"data.logical_streams: {N} is not a multiple of the data-parallel size {dp_size}; each stream is "
            f"read by one rank — set data.logical_streams to a multiple of every DP size the run will use "
            f"(changing it changes the data order, so a checkpoint resumes only approximately)"
        )
    sources = [DatasetSource.open(ds.resolved_name(), ds.path, cfg.verify) for ds in cfg.datasets]
    for src in sources:
        if min_docs_per_stream(src.docs, N) < 1:
            raise ShardFormatError(
                f"dataset {src.name}: {sum(src.docs)} documents in {len(src.docs)} shards cannot feed "
                f"data.logical_streams={N} streams; lower data.logical_streams or add data"
            )
    plan = TrainPlan(
        sources=sources,
        probs=normalised([ds.weight for ds in cfg.datasets]),
        seq_len=cfg.seq_len,
        seed=cfg.seed if seed is None else int(seed),
        shuffle=cfg.shuffle,
        shuffle_buffer=cfg.shuffle_buffer,
        n_streams=N,
        batch_size=cfg.micro_batch_size,
        dp_rank=dp_rank,
        dp_size=dp_size,
        track_documents=document_log is not None,
    )
    return TokenLoader(cfg, plan, document_log)


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
