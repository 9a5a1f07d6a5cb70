"""``shard``: tokenize split parts into WebDataset token shards (format: biomamba/data/format.py).

Part *i* of a split becomes ``<out>/<split>/shard-00000i.tar``.  Each finished
shard gets a receipt ``<out>/<split>/receipts/shard-00000i.json`` (its manifest
entry, the part's sha256, the tokenizer hash and the part's accounting),
written after the shard is renamed into place.  A rerun skips every shard whose
receipt matches its inputs and whose file is intact, and rewrites the rest —
byte-identically, since tar headers are fixed and tokenization is deterministic.
With ``--num-tasks N`` the (split, part) items are dealt round-robin over tasks;
``merge-manifest`` then builds each split's ``manifest.json`` from the receipts.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Callable

import numpy as np

from biomamba.data.format import SHARD_TEMPLATE, ShardWriter, token_dtype
from biomamba.io import atomic_write_json, sha256_file
from data_prep.config import ShardConfig
from data_prep.common.progress import Progress
from data_prep.stages.shard.shard_workers import run_shard_parts
from data_prep.stages.split.split import read_parts
from data_prep.common.stats import StageStats
from data_prep.common.tasks import my_items

log = logging.getLogger("data_prep")
RECEIPTS = "receipts"
TAR_MTIME = 0  # an int: tarfile writes a float mtime as an extra 1 KiB PAX header per member
META_KEYS = ("source", "year", "license")


def receipt_path(split_dir: Path, index: int) -> Path:
    return split_dir / RECEIPTS / SHARD_TEMPLATE.format(index).replace(".tar", ".json")


def work_items(input_dir: Path, splits: list[str]) -> list[dict]:
    """Every (split, part) to shard, in a fixed order shared by all array tasks."""
    items = []
    for split in splits:
        index = read_parts(input_dir / split)
        for i, part in enumerate(index["parts"]):
            items.append({"split": split, "index": i, "part": part, "part_count": len(index["parts"]),
                          "path": input_dir / split / part["name"]})
    return items


def _receipt_current(receipt_file: Path, item: dict, tok, shard_file: Path, verify: bool) -> bool:
    try:
        r = json.loads(receipt_file.read_text())
    except (OSError, ValueError):
        return False
    if (r.get("part_sha256") != item["part"]["sha256"] or r.get("tokenizer", {}).get("hash") != tok.content_hash
            or r.get("part_count") != item["part_count"] or not shard_file.is_file()):
        return False
    if shard_file.stat().st_size != r["shard"]["size"]:
        return False
    return not verify or sha256_file(shard_file) == r["shard"]["sha256"]


class _Batch:
    """A batch of a part's usable records, by column."""

    __slots__ = ("ids", "texts", "text_bytes", "metas")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.text_bytes: list[int] = []
        self.metas: list[dict] = []


def _batches(path: Path, batch_docs: int, stats: StageStats):
    """The usable records of a part, ``batch_docs`` at a time; unusable lines are counted on ``stats``."""
    batch = _Batch()
    with open(path, "rb") as f:
        for line in f:
            if line.isspace():  # lines from a file are never empty
                continue
            try:
                rec = json.loads(line)
                text, doc_id = rec["text"], rec["id"]
            except (ValueError, KeyError, TypeError):
                stats.error("bad_json")
                continue
            if not isinstance(text, str) or not text:
                stats.drop("empty")
                continue
            batch.ids.append(doc_id)
            batch.texts.append(text)
            # str.isascii() is a flag check in CPython: skips the UTF-8 encode for ASCII texts.
            batch.text_bytes.append(len(text) if text.isascii() else len(text.encode("utf-8")))
            batch.metas.append({k: v for k in META_KEYS if (v := rec.get(k)) is not None})
            if len(batch.ids) >= batch_docs:
                yield batch
                batch = _Batch()
    if batch.ids:
        yield batch


def shard_part(item: dict, out_dir: Path, tok, cfg: ShardConfig, threads: int | Callable[[], int], bar=None) -> dict:
    """Tokenize one part into its shard; returns the receipt that was written.

    Tokenization of the next batch runs in a helper thread (SentencePiece and tokenizers
    release the GIL) while this thread reads and writes around it.  ``threads`` is the
    tokenizer's thread count, or a function asked before each batch (shard_workers gives the
    cores of finished workers to the parts still running).
    """
    split_dir = out_dir / item["split"]
    shard_file = split_dir / SHARD_TEMPLATE.format(item["index"])
    for tmp in split_dir.glob(shard_file.name + ".tmp.*"):
        tmp.unlink(missing_ok=True)  # left by a killed run of this same shard
    stats = StageStats(f"shard-{item['split']}-{item['index']:06d}", inputs=[str(item["path"])])
    writer = ShardWriter(shard_file, token_dtype(tok.vocab_size), mtime=TAR_MTIME)
    thread_count = threads if callable(threads) else lambda: threads
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for batch in _batches(item["path"], cfg.batch_docs, stats):
                future = pool.submit(tok.encode_batch, batch.texts, thread_count())
                if pending is not None:
                    _write_batch(pending[0], pending[1].result(), writer, tok.eos_id, stats, bar)
                pending = (batch, future)
            if pending is not None:
                _write_batch(pending[0], pending[1].result(), writer, tok.eos_id, stats, bar)
        entry = writer.close()
    except BaseException:
        writer.abort()
        raise
    receipt = {
        "shard": entry.to_dict(), "split": item["split"], "index": item["index"], "part": item["part"]["name"],
        "input_dir": str(Path(item["path"]).parent.resolve()),
        "part_sha256": item["part"]["sha256"], "part_count": item["part_count"], "tokenizer": tok.describe(),
        "vocab_size": tok.vocab_size, "eos_id": tok.eos_id, "stats": stats.finish().to_dict(),
    }
    (split_dir / RECEIPTS).mkdir(parents=True, exist_ok=True)
    atomic_write_json(receipt_path(split_dir, item["index"]), receipt)
    return receipt


def _write_batch(batch: _Batch, encoded: list[list[int]], writer: ShardWriter, eos: int, stats: StageStats,
                 bar) -> None:
    # One list->numpy conversion per batch: np.fromiter over the chained id lists fills the
    # shard-dtype buffer in C (ids < vocab_size always fit), and the writer slices it.
    lengths = [len(ids) + 1 for ids in encoded]
    for ids in encoded:
        ids.append(eos)
    flat = np.fromiter(chain.from_iterable(encoded), dtype=writer.dtype, count=sum(lengths))
    tokens = writer.add_batch(batch.ids, flat, lengths, batch.text_bytes, batch.metas)
    stats.keep(len(batch.ids))  # counted once per batch, not per document
    stats.add_info("tokens", tokens)
    if bar is not None:
        bar.update(len(batch.ids))


def shard(input_dir: str | Path, tokenizer, out_dir: str | Path, cfg: ShardConfig, splits: list[str],
          task_index: int = 0, num_tasks: int = 1) -> tuple[StageStats, list[str]]:
    """Write this task's shards; returns (task stats, splits touched)."""
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    items = work_items(input_dir, splits)
    mine = my_items(items, task_index, num_tasks)
    cores = cfg.threads or len(os.sched_getaffinity(0))
    stats = StageStats("shard", inputs=[str(input_dir)])
    log.info("task %d/%d: %d of %d shards", task_index, num_tasks, len(mine), len(items))
    todo = []
    with Progress("shard", unit="docs", total=sum(i["part"]["documents"] for i in mine)) as bar:
        for item in mine:
            split_dir = out_dir / item["split"]
            shard_file = split_dir / SHARD_TEMPLATE.format(item["index"])
            rfile = receipt_path(split_dir, item["index"])
            if _receipt_current(rfile, item, tok=tokenizer, shard_file=shard_file, verify=cfg.verify_existing):
                stats.merge(StageStats.from_dict(json.loads(rfile.read_text())["stats"]))
                stats.add_info("shards_skipped")
                bar.update(item["part"]["documents"])
            else:
                split_dir.mkdir(parents=True, exist_ok=True)
                todo.append(item)
        work = partial(shard_part, out_dir=out_dir, tok=tokenizer, cfg=cfg)
        for receipt in run_shard_parts(todo, work, cores, cfg.workers, bar):
            stats.merge(StageStats.from_dict(receipt["stats"]))
            stats.add_info("shards_written")
    stats.stage = "shard"
    return stats.finish(), list(dict.fromkeys(i["split"] for i in items))
