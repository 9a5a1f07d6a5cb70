"""What a loader kept and what it refused, so nothing is ever dropped silently.

Benchmark files in the wild contain questions with a missing body, an exact
answer of the wrong shape or a duplicated id.  A loader skips such a record,
but it must say so: every skipped record is listed here by id (or by its
position when it has no usable id) with the reason, and ``seen == loaded +
len(skipped)`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Skipped:
    """One refused record: ``key`` is its id, or ``#<index>`` when it has none."""

    key: str
    reason: str


@dataclass
class LoadReport:
    source: str
    seen: int = 0
    loaded: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, key: str, reason: str) -> None:
        self.skipped.append(Skipped(key, reason))

    @property
    def ok(self) -> bool:
        return not self.skipped

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "seen": self.seen,
            "loaded": self.loaded,
            "skipped": [{"id": s.key, "reason": s.reason} for s in self.skipped],
        }

    def summary(self) -> str:
        head = f"{self.source}: loaded {self.loaded} of {self.seen}"
        if self.ok:
            return head
        lines = [f"{head}; skipped {len(self.skipped)}:"]
        lines += [f"  {s.key}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)
