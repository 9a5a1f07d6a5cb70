"""Helpers shared by the benchmarks: BENCH lines, machine description, RESULTS.md sections."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import resource
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

_OPS = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t, ">": lambda v, t: v > t, "<": lambda v, t: v < t}


def bench_line(metric: str, value: float, op: str, target: float) -> str:
    """Print and return ``BENCH <metric> <value> target <op><target> PASS|FAIL``."""
    ok = _OPS[op](value, target)
    line = f"BENCH {metric} {value:.4g} target {op}{target:g} {'PASS' if ok else 'FAIL'}"
    print(line, flush=True)
    return line


def machine() -> str:
    """One-line description of where the numbers were taken."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__}), host {cpu}, {cores} cores"
        tv = torch.__version__
    except ImportError:  # pragma: no cover
        tv = "n/a"
    return f"{cpu}, {cores} cores, torch {tv}"


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024**2)


def record_results(section: str, body: str, path: Path | None = None) -> None:
    """Replace (or append) the ``section`` block of benchmarks/RESULTS.md (or of ``path``).

    Each benchmark owns one block delimited by HTML comments, so several
    benchmarks can update the file without clobbering each other.
    """
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # The 1-minute load average says whether other work shared the machine while this ran.
    load = f", load average {os.getloadavg()[0]:.1f} when recorded" if hasattr(os, "getloadavg") else ""
    block = (f"<!-- {section}:start -->\n## {section}\n\n_{stamp} — {machine()}{load}_\n\n{body.strip()}\n"
             f"<!-- {section}:end -->")
    path = path or RESULTS
    text = path.read_text() if path.exists() else "# Benchmark results\n\nWritten by the scripts in `benchmarks/`; each section is replaced when its benchmark reruns.\n"
    pattern = re.compile(rf"<!-- {re.escape(section)}:start -->.*?<!-- {re.escape(section)}:end -->", re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    from biomamba.io import atomic_write_text

    atomic_write_text(path, text)
