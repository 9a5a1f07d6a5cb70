"""``python -m data_prep plan``: wall time and peak memory per stage of a full-baseline run on N array tasks.

The rates are the measured per-core rates that the benchmarks write into
``benchmarks/RESULTS.md`` as ``RATE <name> <value>`` lines (``bench_prep.py``:
extraction, exact-dedup clean, split, tokenize+shard; ``bench_neardedup.py``:
the near-dedup stages and the single-process index).  Memory is the measured
base of a task plus the per-document arrays each stage holds (sizes from the code).

Model of a stage with ``items`` independent work items (files, parts, bands) on
``N`` tasks: wall = work / (rate x min(N, items)), each task runs one core.
Single-process stages (resolve, clean, split, clusters) do not scale with N.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "RESULTS.md"
FULL_BASELINE_CITATIONS = 38_200_000
BASELINE_FILES = 1274  # pubmed25n0001..1274.xml.gz
_RATE = re.compile(r"^RATE (\S+) ([0-9.eE+-]+)\s*$", re.M)
NEEDED = {
    "prep_extract_citations_per_core_s": "bench_prep.py", "prep_clean_exact_docs_per_core_s": "bench_prep.py",
    "prep_split_docs_per_core_s": "bench_prep.py", "prep_shard_tokens_per_core_s": "bench_prep.py",
    "prep_tokens_per_doc": "bench_prep.py", "prep_bytes_per_doc": "bench_prep.py",
    "prep_extract_peak_rss_bytes": "bench_prep.py",
    "neardedup_signatures_docs_per_core_s": "bench_neardedup.py",
    "neardedup_buckets_doc_bands_per_core_s": "bench_neardedup.py",
    "neardedup_clusters_docs_per_core_s": "bench_neardedup.py", "neardedup_filter_docs_per_core_s": "bench_neardedup.py",
    "neardedup_task_base_rss_bytes": "bench_neardedup.py", "neardedup_bucket_members_per_doc": "bench_neardedup.py",
    "neardedup_single_docs_per_core_s": "bench_neardedup.py", "neardedup_single_rss_bytes_per_doc": "bench_neardedup.py",
}
EXACT_DEDUP_BYTES_PER_DOC = 70  # data_prep/stages/clean/dedup.py: one 8-byte key in a Python set
SIGNATURE_BYTES_PER_DOC = 117 * 4 + 150  # 9 bands x 13 rows of uint32, plus one small array per document
BUCKET_BYTES_PER_DOC = 8 + 8 + 8 + 1  # band hash, sort order, sorted hashes, "shared" flag
CLUSTER_BYTES_PER_DOC = 8  # the decisions array
CLUSTER_BYTES_PER_MEMBER = 16 * 3  # (document, group) pairs, sorted copies and the graph


class PlanError(ValueError):
    pass


def read_rates(path: str | Path = RESULTS) -> dict[str, float]:
    text = Path(path).read_text() if Path(path).is_file() else ""
    rates = {k: float(v) for k, v in _RATE.findall(text)}
    missing = sorted(k for k in NEEDED if k not in rates)
    if missing:
        scripts = sorted({NEEDED[k] for k in missing})
        raise PlanError(f"{path} lacks the measured rates {missing}: run "
                        + " and ".join(f"benchmarks/{s}" for s in scripts))
    return rates


def plan_rows(rates: dict[str, float], tasks: int, citations: int = FULL_BASELINE_CITATIONS,
              files: int = BASELINE_FILES, part_mb: float = 256.0, bands: int = 9) -> list[dict]:
    """One row per stage: tasks used, wall seconds, peak memory per task (bytes)."""
    docs = citations
    base = rates["neardedup_task_base_rss_bytes"]
    parts = max(1, math.ceil(docs * rates["prep_bytes_per_doc"] / (part_mb * 2**20)))
    docs_per_part = docs / parts
    tokens = docs * rates["prep_tokens_per_doc"]
    members = docs * rates["neardedup_bucket_members_per_doc"]
    shard_parts = max(1, math.ceil(tokens * 2 / (256 * 2**20)))  # 256 MB shards of uint16 tokens

    def row(stage, items, work, rate, mem, note=""):
        used = min(tasks, items)
        return {"stage": stage, "tasks": used, "wall_s": work / (rate * used), "peak_bytes": mem, "note": note}

    return [
        row("extract pubmed", files, citations, rates["prep_extract_citations_per_core_s"],
            rates["prep_extract_peak_rss_bytes"], f"{files} files"),
        row("clean (exact dedup)", 1, docs, rates["prep_clean_exact_docs_per_core_s"],
            base + EXACT_DEDUP_BYTES_PER_DOC * docs, "one process"),
        row("neardedup signatures", parts, docs, rates["neardedup_signatures_docs_per_core_s"],
            base + SIGNATURE_BYTES_PER_DOC * docs_per_part, f"{parts} parts of {part_mb:g} MB"),
        row("neardedup buckets", bands, docs * bands, rates["neardedup_buckets_doc_bands_per_core_s"],
            base + BUCKET_BYTES_PER_DOC * docs, f"{bands} bands"),
        row("neardedup clusters", 1, docs, rates["neardedup_clusters_docs_per_core_s"],
            base + CLUSTER_BYTES_PER_DOC * docs + CLUSTER_BYTES_PER_MEMBER * members, "one process"),
        row("neardedup filter", parts, docs, rates["neardedup_filter_docs_per_core_s"], base, f"{parts} parts"),
        row("split", 1, docs, rates["prep_split_docs_per_core_s"], base, "one process, streaming"),
        row("shard", shard_parts, tokens, rates["prep_shard_tokens_per_core_s"], base,
            f"{shard_parts} shards of ~256 MB"),
        row("(instead of the 4 neardedup stages: single-process near-dedup)", 1, docs,
            rates["neardedup_single_docs_per_core_s"], base + rates["neardedup_single_rss_bytes_per_doc"] * docs,
            "in-memory LSH index"),
    ]


def _fmt_s(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def format_plan(rows: list[dict], tasks: int, citations: int) -> str:
    out = [f"Full-baseline plan: {citations:,} citations, {tasks} array tasks of 1 core each "
           f"(rates: RATE lines of benchmarks/RESULTS.md)", "",
           f"| {'stage':<64} | tasks | {'wall':>9} | {'peak memory / task':>18} | note",
           f"|{'-' * 66}|-------|{'-' * 11}|{'-' * 20}|------"]
    staged_total = 0.0
    for r in rows:
        if not r["stage"].startswith("("):
            staged_total += r["wall_s"]
        out.append(f"| {r['stage']:<64} | {r['tasks']:>5} | {_fmt_s(r['wall_s']):>9} | "
                   f"{r['peak_bytes'] / 2**30:>15.2f} GiB | {r['note']}")
    out += ["", f"Total wall time of the staged chain (stages run one after another): {_fmt_s(staged_total)}.",
            "Not included: resolve (one process, streams the parts) and train-tokenizer (bounded by its sample).",
            "Memory of split/shard/filter is a task's measured base; a shard task adds its tokenizer model.",
            "Rates are per CPU-second of the benchmark inputs (benchmarks/RESULTS.md says which); real baseline",
            "citations carry long author/MeSH/reference lists and extract slower than the benchmark's."]
    return "\n".join(out)
