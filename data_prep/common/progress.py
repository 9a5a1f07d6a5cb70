"""Progress for long jobs: a tqdm bar on a terminal, periodic throughput log lines in batch logs.

Slurm output files are not terminals; a redrawn bar there is noise, so when
stderr is not a TTY we log ``<desc>: N units (R/s)`` every ``log_every`` seconds.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("data_prep")


class Progress:
    def __init__(self, desc: str, total: int | None = None, unit: str = "records", log_every: float = 30.0):
        self.desc, self.unit, self.total = desc, unit, total
        self.n = 0
        self.start = self._last = time.time()
        self.log_every = log_every
        self._bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", unit_scale=True, leave=False, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.time()
        if now - self._last >= self.log_every:
            self._last = now
            of = f"/{self.total:,}" if self.total else ""
            log.info("%s: %s%s %s (%.0f/s)", self.desc, f"{self.n:,}", of, self.unit, self.n / max(now - self.start, 1e-9))

    def close(self) -> float:
        """Close the bar and log the final throughput; returns the rate per second."""
        if self._bar is not None:
            self._bar.close()
        elapsed = max(time.time() - self.start, 1e-9)
        rate = self.n / elapsed
        log.info("%s: %s %s in %.1f s (%.0f %s/s)", self.desc, f"{self.n:,}", self.unit, elapsed, rate, self.unit)
        return rate

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def setup_logging(verbose: bool = False) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
