"""``split``: deterministic train/val/test assignment, decontamination, and cutting into parts.

A document's split depends only on a hash of its ``id`` (and a salt), so it
never moves when the corpus grows or the job is rerun.  Evaluation documents
(``--exclude-*`` and, by default, the sets the project ships) are removed from every split, and each
split's ``parts.json`` records which sets were removed, their ids and the documents dropped
(``decontamination``; the shard manifest carries it on).  Each split is written as
numbered parts ``<out>/<split>/part-000000.jsonl ...`` cut in input order at
about ``shard_mb`` of *estimated token-shard size*; the shard step turns part
*i* into ``shard-00000i.tar``, which is what makes an array run's shards the
same as a single process's.  ``<out>/<split>/parts.json`` lists the parts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from biomamba.io import atomic_write_json
from data_prep.config import SplitConfig
from data_prep.stages.split.decontam import Exclusions
from data_prep.common.jsonl import AtomicJsonlWriter, iter_records
from data_prep.common.progress import Progress
from data_prep.common.stats import StageStats

PART_TEMPLATE = "part-{:06d}.jsonl"
PARTS_INDEX = "parts.json"
# Token-shard bytes per document ≈ fixed tar overhead + 2 bytes per token at ~4 UTF-8 bytes per
# token.  The overhead (~4 KB) is two members, each with a 512-byte header, a 1 KiB PAX header
# (webdataset writes mtime 0.0 as a float) and padding to 512, plus the npy header and the json.
DOC_OVERHEAD_BYTES = 4000
SHARD_BYTES_PER_TEXT_BYTE = 0.5


def split_of(doc_id: str, fractions: dict[str, float], salt: str) -> str:
    """The split of ``doc_id``: a uniform hash in [0, 1) against cumulative fractions."""
    h = int.from_bytes(hashlib.blake2b(f"{salt}\0{doc_id}".encode(), digest_size=8).digest(), "big")
    u = h / 2**64
    acc = 0.0
    names = list(fractions)
    for name in names:
        acc += fractions[name]
        if u < acc:
            return name
    return names[-1]


def estimated_shard_bytes(text_bytes: int) -> float:
    return DOC_OVERHEAD_BYTES + SHARD_BYTES_PER_TEXT_BYTE * text_bytes


class _SplitWriter:
    """Writes one split's parts, starting a new part when the size estimate is reached."""

    def __init__(self, split_dir: Path, limit_bytes: float):
        self.dir, self.limit = split_dir, limit_bytes
        self.parts: list[dict] = []
        self._w: AtomicJsonlWriter | None = None
        self._est = 0.0
        self._docs = self._text = 0

    def add(self, line: bytes, text_bytes: int) -> None:
        if self._w is None:
            self._w = AtomicJsonlWriter(self.dir / PART_TEMPLATE.format(len(self.parts)))
        self._w.write_line(line)
        self._docs += 1
        self._text += text_bytes
        self._est += estimated_shard_bytes(text_bytes)
        if self._est >= self.limit:
            self._close()

    def _close(self) -> None:
        if self._w is None:
            return
        self._w.commit()
        self.parts.append({"name": self._w.path.name, "documents": self._docs, "text_bytes": self._text,
                           "sha256": self._w.sha256})
        self._w, self._est, self._docs, self._text = None, 0.0, 0, 0

    def finish(self) -> list[dict]:
        self._close()
        return self.parts

    def abort(self) -> None:
        if self._w is not None:
            self._w.abort()


def split(inputs: list[str | Path], out_dir: str | Path, cfg: SplitConfig, exclusions: Exclusions) -> StageStats:
    out_dir = Path(out_dir)
    stats = StageStats("split", inputs=[str(p) for p in inputs])
    writers: dict[str, _SplitWriter] = {}
    for name in cfg.fractions:
        d = out_dir / name
        d.mkdir(parents=True, exist_ok=True)
        for old in list(d.glob("part-*.jsonl")) + [d / PARTS_INDEX]:
            old.unlink(missing_ok=True)  # outputs of an earlier run with other settings
        for tmp in d.glob("part-*.jsonl.tmp.*"):
            tmp.unlink(missing_ok=True)
        writers[name] = _SplitWriter(d, cfg.shard_mb * 1e6)
    excluded_by_split: dict[str, list[str]] = {name: [] for name in cfg.fractions}
    try:
        with Progress("split", unit="records") as bar:
            for path in map(Path, inputs):
                if not path.is_file():
                    stats.fail_input(path, "no such file")
                    continue
                for line, rec in iter_records(path, stats):
                    bar.update()
                    name = split_of(rec["id"], cfg.fractions, cfg.salt)
                    if exclusions.matches(rec):
                        stats.drop("eval_excluded")
                        excluded_by_split[name].append(str(rec["id"]))
                        continue
                    writers[name].add(line, len(rec["text"].encode("utf-8")))
                    stats.keep()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    per_split = {}
    for name, w in writers.items():
        parts = w.finish()
        index = {"split": name, "parts": parts, "documents": sum(p["documents"] for p in parts),
                 "text_bytes": sum(p["text_bytes"] for p in parts), "salt": cfg.salt, "fractions": cfg.fractions,
                 "decontamination": exclusions.record(excluded_by_split[name])}
        atomic_write_json(out_dir / name / PARTS_INDEX, index)
        per_split[name] = {"documents": index["documents"], "parts": len(parts), "excluded": len(excluded_by_split[name])}
    stats.info["splits"] = per_split
    stats.info["exclusion_ids"] = len(exclusions)
    stats.info["exclusion_sources"] = exclusions.sources
    return stats.finish()


def read_parts(split_dir: str | Path) -> dict:
    """The ``parts.json`` of a split directory (raises ``FileNotFoundError`` with advice)."""
    import json

    path = Path(split_dir) / PARTS_INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m data_prep split ...` first")
    return json.loads(path.read_text())
