"""JSONL files written atomically and read with bad lines counted, not fatal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from biomamba.io import AtomicWriter, tmp_path
from data_prep.common.records import check_record, dumps
from data_prep.common.stats import StageStats


class AtomicJsonlWriter(AtomicWriter):
    """Lines go to ``<path>.tmp.<pid>``; :meth:`commit` fsyncs and renames into place
    (:class:`biomamba.io.AtomicWriter`).

    A killed job therefore never leaves a file under the final name that a
    later run could mistake for complete output.  Also tracks the sha256 and
    size of what was written.
    """

    def __init__(self, path: str | Path):
        super().__init__(path, tmp=tmp_path(path, hidden=False))  # the name remove_stale_temps looks for

    def write_record(self, record: dict) -> None:
        self.write_line(dumps(record))


def iter_lines(path: str | Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield line if line.endswith(b"\n") else line + b"\n"


def parse_record(line: bytes, stats: StageStats | None = None) -> dict | None:
    """The record of one JSONL line, or None for an invalid one (counted as ``errors['bad_json']``)."""
    try:
        return check_record(json.loads(line))
    except (ValueError, UnicodeDecodeError):
        if stats is not None:
            stats.error("bad_json")
        return None


def iter_records(path: str | Path, stats: StageStats | None = None) -> Iterator[tuple[bytes, dict]]:
    """``(raw_line, record)`` per valid line; invalid lines are counted as ``errors['bad_json']``."""
    for line in iter_lines(path):
        rec = parse_record(line, stats)
        if rec is not None:
            yield line, rec


def remove_stale_temps(path: Path) -> None:
    """Delete ``<path>.tmp.*`` left by a killed run of the job that owns ``path``."""
    for tmp in path.parent.glob(path.name + ".tmp.*"):
        tmp.unlink(missing_ok=True)
