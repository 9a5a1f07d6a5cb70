"""One logical read stream of the training loader: documents -> packed windows.

A stream's whole future is a pure function of its position: per dataset
``[epoch, slot, doc, token]`` (``slot``: index into the stream's shard slices of
that epoch, ``doc``: emission index inside the slice's shuffled order,
``token``: offset in that document) plus its window count, which seeds the
mixture.  Epochs follow each other without a break: the packer carries the tail
of epoch ``e`` into the first window of ``e + 1``, so no token is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .format import ShardFormatError, read_manifest
from .mixture import window_datasets
from .order import doc_order, name_key, reorder, shard_order
from .packing import Doc, Packer
from .shard_reader import ShardReader, Verify
from .sharding import ShardSlice, stream_slices

START = (0, 0, 0, 0)  # epoch, slot, doc, token


@dataclass
class DatasetSource:
    """A split as the streams see it: its reader and its non-empty shards."""

    name: str
    reader: ShardReader
    shards: list[int]  # manifest shard indices that hold documents
    docs: list[int]  # their document counts
    key: int = field(init=False)

    def __post_init__(self) -> None:
        self.key = name_key(self.name)

    @classmethod
    def open(cls, name: str, path: str | Path, verify: Verify = "first") -> "DatasetSource":
        manifest = read_manifest(path)
        reader = ShardReader(path, manifest, verify=verify)
        shards = [i for i, e in enumerate(manifest["shards"]) if int(e["documents"]) > 0]
        where = reader.split_dir / "manifest.json"
        if not shards:
            raise ShardFormatError(f"{where}: no documents in any shard; nothing to train on")
        if int(manifest["vocab_size"]) > 2**31:
            raise ShardFormatError(f"{where}: vocab_size {manifest['vocab_size']} does not fit int32 token ids")
        return cls(name, reader, shards, [int(manifest["shards"][i]["documents"]) for i in shards])

    def slices(self, epoch: int, stream: int, n_streams: int, seed: int, shuffle: bool) -> list[ShardSlice]:
        order = shard_order(seed, self.key, epoch, len(self.shards), shuffle)
        return stream_slices(self.docs, order, stream, n_streams)


@dataclass
class TrainPlan:
    """Everything a worker needs to run streams (picklable; built once per loader).

    ``n_streams`` (``data.logical_streams``) and the fields above it fix the global order;
    ``batch_size``, ``dp_rank`` and ``dp_size`` only say which part of it this loader delivers.
    """

    sources: list[DatasetSource]
    probs: np.ndarray
    seq_len: int
    seed: int
    shuffle: bool
    shuffle_buffer: int
    n_streams: int
    batch_size: int
    dp_rank: int
    dp_size: int
    track_documents: bool = False


def iter_docs(src: DatasetSource, plan: TrainPlan, g: int, epoch: int, slot: int, doc: int) -> Iterator[Doc]:
    """Documents of stream ``g`` from position ``(epoch, slot, doc)`` on, across epochs, forever."""
    while True:
        slices = src.slices(epoch, g, plan.n_streams, plan.seed, plan.shuffle)
        if not slices:  # build_train_loader checks that every stream owns documents in every epoch
            raise RuntimeError(f"dataset {src.name}: stream {g} owns no documents in epoch {epoch}")
        for si in range(slot, len(slices)):
            sl = slices[si]
            shard = src.shards[sl.shard]
            order = doc_order(plan.seed, src.key, epoch, shard, g, sl.count, plan.shuffle_buffer, plan.shuffle)
            samples = src.reader.samples(shard, sl.offset, sl.stride)
            try:
                for j, sample in reorder(samples, order, doc if si == slot else 0):
                    tokens, nbytes = src.reader.decode(shard, sample)
                    in_shard = sl.offset + sl.stride * int(order[j])
                    yield Doc(tokens, nbytes, (epoch, si, j), (src.name, epoch, shard, in_shard))
            except IndexError as exc:  # the reader names the shard for count mismatches; this is a fallback
                raise ShardFormatError(f"shard {src.reader.path(shard)}: {exc}") from exc
        epoch, slot, doc = epoch + 1, 0, 0


class TrainStream:
    """Logical stream ``g``: produces its windows in order and reports its position."""

    def __init__(self, plan: TrainPlan, g: int, positions: dict[str, list[int]], windows: int):
        self.plan = plan
        self.g = g
        self.windows = windows
        self._positions = {src.name: list(positions.get(src.name, START)) for src in plan.sources}
        self._packers: dict[str, Packer] = {}

    def _packer(self, src: DatasetSource) -> Packer:
        p = self._packers.get(src.name)
        if p is None:
            e, slot, doc, tok = self._positions[src.name]
            p = self._packers[src.name] = Packer(iter_docs(src, self.plan, self.g, e, slot, doc), (e, slot, doc), tok)
        return p

    def next_windows(self, count: int) -> tuple[np.ndarray, list | None]:
        """The stream's next ``count`` windows packed as int32 ``[count, L + 2]``: ``L + 1`` window
        tokens, then target bytes; plus, with ``plan.track_documents``, each window's document spans
        ``[dataset, epoch, shard, doc, first_token, end_token)`` of its targets (else None).

        One small array instead of three int64 tensors because it crosses the
        worker -> trainer process boundary (see ``loader.unpack``).
        """
        plan = self.plan
        L = plan.seq_len
        rows = window_datasets(plan.seed, self.g, self.windows, count, plan.probs)
        packed = np.empty((count, L + 2), dtype=np.int32)
        docs: list | None = [None] * count if plan.track_documents else None
        for d in np.unique(rows):
            src = plan.sources[int(d)]
            idx = np.flatnonzero(rows == d)
            packer = self._packer(src)
            span, row_bytes = packer.take(len(idx), L)
            # window i is span[i*L : i*L + L + 1]: consecutive windows share one token
            packed[idx, : L + 1] = np.lib.stride_tricks.sliding_window_view(span, L + 1)[::L]
            packed[idx, L + 1] = row_bytes
            if docs is not None:
                for i, spans in zip(idx.tolist(), packer.target_spans(len(idx), L)):
                    docs[i] = spans
            (e, slot, doc), tok = packer.position
            self._positions[src.name] = [e, slot, doc, tok]
        self.windows += count
        return packed, docs

    def state(self) -> dict:
        return {"windows": self.windows, "datasets": {k: list(v) for k, v in self._positions.items()}}

    def pop_newly_verified(self) -> list:
        out = []
        for src in self.plan.sources:
            out += src.reader.pop_newly_verified()
        return out
