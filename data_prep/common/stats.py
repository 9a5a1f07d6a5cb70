"""Per-stage accounting: every record a stage looks at is kept, dropped for a reason, or an error.

Each stage writes ``stats.json`` with ``seen == kept + sum(dropped) + sum(errors)``
holding exactly; :meth:`StageStats.write` refuses to write unbalanced numbers
(that would be a bug in the stage, not in the data).  Inputs that could not be
opened at all (missing, unreadable) are not records: they are listed under
``failed_inputs`` by path and make the command exit non-zero at the end.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from biomamba.io import atomic_write_json, package_versions


class AccountingError(RuntimeError):
    """The stage's counters do not add up (a programming error)."""


@dataclass
class StageStats:
    stage: str
    seen: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    failed_inputs: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    elapsed_s: float | None = None

    # -- counting ---------------------------------------------------------
    def keep(self, n: int = 1) -> None:
        self.seen += n
        self.kept += n

    def drop(self, reason: str, n: int = 1) -> None:
        if n:
            self.seen += n
            self.dropped[reason] += n

    def error(self, kind: str, n: int = 1) -> None:
        if n:
            self.seen += n
            self.errors[kind] += n

    def fail_input(self, path: str | Path, reason: str) -> None:
        self.failed_inputs[str(path)] = reason

    def add_info(self, key: str, n: int = 1) -> None:
        self.info[key] = self.info.get(key, 0) + n

    def merge(self, other: "StageStats") -> "StageStats":
        self.seen += other.seen
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.errors.update(other.errors)
        self.failed_inputs.update(other.failed_inputs)
        for k, v in other.info.items():
            if isinstance(v, (int, float)) and isinstance(self.info.get(k, 0), (int, float)):
                self.info[k] = self.info.get(k, 0) + v
            else:
                self.info.setdefault(k, v)
        self.inputs.extend(i for i in other.inputs if i not in self.inputs)
        return self

    # -- checks and output -----------------------------------------------
    @property
    def balanced(self) -> bool:
        return self.seen == self.kept + sum(self.dropped.values()) + sum(self.errors.values())

    def check(self) -> None:
        if not self.balanced:
            raise AccountingError(
                f"{self.stage}: seen={self.seen} but kept={self.kept} + dropped={sum(self.dropped.values())} "
                f"+ errors={sum(self.errors.values())} (this is a bug in data_prep; please report it)"
            )

    def finish(self) -> "StageStats":
        self.elapsed_s = round(time.time() - self.started, 3)
        return self

    def to_dict(self, config: dict | None = None) -> dict:
        if self.elapsed_s is None:
            self.finish()
        return {
            "stage": self.stage,
            "seen": self.seen,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "errors": dict(sorted(self.errors.items())),
            "failed_inputs": dict(sorted(self.failed_inputs.items())),
            "info": self.info,
            "inputs": self.inputs,
            "elapsed_s": self.elapsed_s,
            "config": config or {},
            "versions": package_versions(),
        }

    def write(self, path: str | Path, config: dict | None = None) -> dict:
        self.check()
        data = self.to_dict(config)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, data)
        return data

    @classmethod
    def from_dict(cls, d: dict) -> "StageStats":
        s = cls(d["stage"], d["seen"], d["kept"], Counter(d["dropped"]), Counter(d["errors"]),
                dict(d.get("failed_inputs", {})), dict(d.get("info", {})), list(d.get("inputs", [])))
        s.elapsed_s = d.get("elapsed_s")
        return s

    @classmethod
    def load(cls, path: str | Path) -> "StageStats":
        return cls.from_dict(json.loads(Path(path).read_text()))

    # -- human summary ----------------------------------------------------
    def summary_rows(self) -> list[tuple[str, str]]:
        rows = [("seen", f"{self.seen:,}"), ("kept", f"{self.kept:,}")]
        rows += [(f"dropped: {k}", f"{v:,}") for k, v in sorted(self.dropped.items())]
        rows += [(f"error: {k}", f"{v:,}") for k, v in sorted(self.errors.items())]
        for k, v in sorted(self.info.items()):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                rows.append((k, f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"))
        rows += [("FAILED input", f"{p} ({r})") for p, r in sorted(self.failed_inputs.items())]
        if self.elapsed_s is not None:
            rows.append(("elapsed", f"{self.elapsed_s:.1f} s"))
            if self.elapsed_s > 0 and self.seen:
                rows.append(("throughput", f"{self.seen / self.elapsed_s:,.0f} records/s"))
        return rows

    def print_summary(self) -> None:
        """A summary table on stderr (rich), so stdout stays clean for piping."""
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"data_prep {self.stage}", show_header=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for k, v in self.summary_rows():
            table.add_row(k, v)
        Console(stderr=True).print(table)
