"""JSONL files written atomically and read with bad lines counted, not fatal."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

from data_prep.records import check_record, dumps
from data_prep.stats import StageStats


class AtomicJsonlWriter:
    """Lines go to ``<path>.tmp.<pid>``; :meth:`commit` fsyncs and renames into place.

    A killed job therefore never leaves a file under the final name that a
    later run could mistake for complete output.  Also tracks the sha256 and
    size of what was written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f"{self.path.name}.tmp.{os.getpid()}")
        self._f = open(self.tmp, "wb")
        self._sha = hashlib.sha256()
        self.lines = 0
        self.bytes = 0

    def write_line(self, line: bytes | str) -> None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        self._f.write(data)
        self._sha.update(data)
        self.lines += 1
        self.bytes += len(data)

    def write_record(self, record: dict) -> None:
        self.write_line(dumps(record))

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def commit(self) -> Path:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AtomicJsonlWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def iter_lines(path: str | Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield line if line.endswith(b"\n") else line + b"\n"


def iter_records(path: str | Path, stats: StageStats | None = None) -> Iterator[tuple[bytes, dict]]:
    """``(raw_line, record)`` per valid line; invalid lines are counted as ``errors['bad_json']``."""
    for line in iter_lines(path):
        try:
            rec = check_record(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            if stats is not None:
                stats.error("bad_json")
            continue
        yield line, rec


def remove_stale_temps(path: Path) -> None:
    """Delete ``<path>.tmp.*`` left by a killed run of the job that owns ``path``."""
    for tmp in path.parent.glob(path.name + ".tmp.*"):
        tmp.unlink(missing_ok=True)
