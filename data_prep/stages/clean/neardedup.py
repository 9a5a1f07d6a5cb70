"""Staged near-dedup: the MinHash-LSH step of ``clean`` as four stages that each fit a small task.

    signatures (one task per part)  ->  buckets (one task per LSH band)  ->  clusters (one task)
        ->  filter (one task per part)

Same result as the single-process method (``clean`` with ``near_dedup`` on, i.e.
:class:`data_prep.stages.clean.dedup.NearDeduper`): the same MinHash signatures (its shingling
and permutations), the same banding (datasketch's ``MinHashLSH`` chooses ``b x r``
from the threshold), and the same rule — **a document is removed when it shares
an LSH bucket in any band with an earlier kept document; the first occurrence in
input order is kept** — so the kept ids are identical, not only similar.

Why this implementation: datasketch (already a dependency) gives the hashing and
the banding parameters, so the signatures are bit-identical to today's method;
the staging is our own (~300 lines of numpy) because datatrove's MinHash stages
use their own hashing and a different removal rule (every cluster member but one,
after union-find), which would change which documents survive, and would add a
large dependency for four small steps.

Parts: each input JSONL file is cut into byte ranges of ``part_mb`` (a line
belongs to the part where it starts), so the parts — and every output — depend
only on the inputs and settings, never on the number of tasks.  Part *k* of the
plan is ``part-0000k``; the document index used between stages is the position
in the concatenation of all parts (input order).

Layout under ``--work DIR``::

    signatures/part-NNNNN.npy   uint32 (bands, docs, rows): the bands of each document
    signatures/part-NNNNN.json  receipt: docs, ids file, sha256, accounting (bad lines)
    signatures/part-NNNNN.ids   the record ids, one per line
    buckets/band-NNN.npy        int64 (2, M): (document, group) for every document in a group of >= 2
    clusters/decisions.npy      int64 per document: -1 kept, else the index of the kept duplicate
    clusters/clusters.jsonl     one line per cluster (connected component) of >= 2 documents
    clusters/stats.json         the accounting of every document: kept / near_duplicate
    out/part-NNNNN.jsonl        the kept records of each part (+ .json receipt)

Every output is written atomically (biomamba.io) after its data, with a receipt that
holds the plan's fingerprint; a rerun skips outputs whose receipt matches and redoes
the rest, byte-identically (no clocks, no pids, no dict-order dependence in outputs).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from biomamba.io import atomic_open, atomic_write_json, atomic_write_text, sha256_file
from data_prep.config import CleanConfig, fingerprint
from data_prep.common.jsonl import parse_record
from data_prep.common.stats import StageStats

log = logging.getLogger("data_prep")
PART = "part-{:05d}"
BAND = "band-{:03d}"


class NearDedupError(ValueError):
    """Inputs, settings or earlier stages do not fit together (message says what to run or change)."""


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) exactly as :class:`data_prep.stages.clean.dedup.NearDeduper`'s ``MinHashLSH`` picks them."""
    from datasketch import MinHashLSH

    from data_prep.stages.clean.dedup import NearDeduper

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=NearDeduper.LSH_WEIGHTS)
    return lsh.b, lsh.r


def _cached_bands(work: Path, cfg: CleanConfig) -> tuple[int, int]:
    """:func:`lsh_bands`, remembered in ``WORK/bands.json``: importing datasketch (and scipy with it)
    costs ~50 MB and ~1 s per task, which the bucket and filter tasks do not otherwise need."""
    from data_prep.stages.clean.dedup import NearDeduper  # without datasketch: that is imported on first use

    key = {"threshold": cfg.near_dup_threshold, "num_perm": cfg.num_perm, "weights": list(NearDeduper.LSH_WEIGHTS)}
    cache = work / "bands.json"
    try:
        d = json.loads(cache.read_text())
        if d["key"] == key:
            return d["bands"], d["rows"]
    except (OSError, ValueError, KeyError):
        pass
    b, r = lsh_bands(cfg.near_dup_threshold, cfg.num_perm)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(cache, {"key": key, "bands": b, "rows": r})
    return b, r


@dataclass
class Plan:
    """The parts of the inputs and the settings: everything every stage of every task must agree on."""

    work: Path
    inputs: list[str]
    cfg: CleanConfig
    part_bytes: int
    parts: list[dict] = field(default_factory=list)  # {"file": i, "start": a, "end": b}
    bands: int = 0
    rows: int = 0
    fingerprint: str = ""

    @classmethod
    def make(cls, inputs: list[str | Path], work: str | Path, cfg: CleanConfig, part_mb: float = 256.0) -> "Plan":
        if part_mb <= 0:
            raise NearDedupError("--part-mb: must be > 0 (e.g. 256)")
        paths = [Path(p) for p in inputs]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise NearDedupError(f"input not found: {', '.join(missing)} (give the clean stage's .jsonl output)")
        plan = cls(Path(work), [str(p.resolve()) for p in paths], cfg, max(1, int(part_mb * 2**20)))
        plan.bands, plan.rows = _cached_bands(plan.work, cfg)
        sig = []
        for i, p in enumerate(paths):
            st = p.stat()
            sig.append([plan.inputs[i], st.st_size, st.st_mtime_ns])
            for k in range(max(1, math.ceil(st.st_size / plan.part_bytes))):
                plan.parts.append({"file": i, "start": k * plan.part_bytes,
                                   "end": min(st.st_size, (k + 1) * plan.part_bytes)})
        settings = {"threshold": cfg.near_dup_threshold, "num_perm": cfg.num_perm, "shingle_words": cfg.shingle_words,
                    "part_bytes": plan.part_bytes, "bands": plan.bands, "rows": plan.rows}
        plan.fingerprint = fingerprint(["neardedup-v1", settings, sig])
        return plan

    def describe(self) -> dict:
        return {"fingerprint": self.fingerprint, "inputs": self.inputs, "parts": len(self.parts),
                "bands": self.bands, "rows": self.rows, "threshold": self.cfg.near_dup_threshold,
                "num_perm": self.cfg.num_perm, "shingle_words": self.cfg.shingle_words, "part_bytes": self.part_bytes}

    def path(self, stage: str, name: str) -> Path:
        return self.work / stage / name


def iter_part(plan: Plan, k: int, stats: StageStats | None = None) -> Iterator[tuple[bytes, dict]]:
    """(line, record) of the lines that *start* in part ``k``'s byte range; bad lines are counted."""
    part = plan.parts[k]
    start, end = part["start"], part["end"]
    with open(plan.inputs[part["file"]], "rb") as f:
        pos = start
        if start > 0:
            f.seek(start - 1)
            pos = start - 1 + len(f.readline())  # the rest of the line that straddles the boundary
        while pos < end:
            line = f.readline()
            if not line:
                break
            pos += len(line)
            if not line.strip():
                continue
            rec = parse_record(line, stats)
            if rec is not None:
                yield line, rec


def receipt_ok(receipt: Path, plan: Plan, *outputs: Path) -> dict | None:
    """The receipt when it is current (same plan, outputs present with the recorded sha256), else None."""
    try:
        r = json.loads(receipt.read_text())
    except (OSError, ValueError):
        return None
    if r.get("plan") != plan.fingerprint:
        return None
    for out in outputs:
        want = r.get("sha256", {}).get(out.name)
        if not out.is_file() or want is None or out.stat().st_size != r["size"][out.name] or sha256_file(out) != want:
            return None
    return r


def write_receipt(receipt: Path, plan: Plan, outputs: list[Path], extra: dict) -> dict:
    r = {"plan": plan.fingerprint, "sha256": {p.name: sha256_file(p) for p in outputs},
         "size": {p.name: p.stat().st_size for p in outputs}, **extra}
    atomic_write_json(receipt, r)
    return r


def clear_temps(*outputs: Path) -> None:
    """Remove the temporary files (biomamba.io naming) that a killed run of these outputs left."""
    for out in outputs:
        for tmp in out.parent.glob(f".{out.name}.tmp.*"):
            tmp.unlink(missing_ok=True)


def save_npy(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)


def load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


# -- stage 1: signatures ------------------------------------------------------------------------
def signatures(plan: Plan, k: int, force: bool = False) -> dict:
    """MinHash bands of every record of part ``k`` (streaming: one document in memory at a time)."""
    from data_prep.stages.clean.dedup import NearDeduper

    npy, ids = plan.path("signatures", PART.format(k) + ".npy"), plan.path("signatures", PART.format(k) + ".ids")
    receipt = plan.path("signatures", PART.format(k) + ".json")
    if not force and (r := receipt_ok(receipt, plan, npy, ids)):
        return r
    clear_temps(npy, ids, receipt)
    deduper = NearDeduper(plan.cfg.near_dup_threshold, plan.cfg.num_perm, plan.cfg.shingle_words)
    width = plan.bands * plan.rows
    stats = StageStats(f"neardedup-signatures-{k:05d}")
    rows: list[np.ndarray] = []
    names: list[str] = []
    for _, rec in iter_part(plan, k, stats):
        # datasketch keeps 32-bit values in uint64; the bands are the first b*r of them (its hashranges).
        rows.append(deduper.minhash(rec["text"]).hashvalues[:width].astype(np.uint32))
        names.append(rec["id"])
    sig = np.stack(rows) if rows else np.zeros((0, width), np.uint32)
    # band-major, so that a bucket task reads one contiguous slab per part
    sig = np.ascontiguousarray(sig.reshape(len(rows), plan.bands, plan.rows).transpose(1, 0, 2))
    save_npy(npy, sig)
    atomic_write_text(ids, "".join(n + "\n" for n in names))
    stats.info["docs"] = len(names)
    return write_receipt(receipt, plan, [npy, ids], {"part": k, "docs": len(names), "errors": dict(stats.errors)})


def part_docs(plan: Plan) -> np.ndarray:
    """Documents per part from the signature receipts (fails clearly when a part is missing)."""
    counts = []
    for k in range(len(plan.parts)):
        npy = plan.path("signatures", PART.format(k) + ".npy")
        r = receipt_ok(plan.path("signatures", PART.format(k) + ".json"), plan)
        if r is None or not npy.is_file():
            raise NearDedupError(f"signatures of part {k} are missing or from other inputs/settings under "
                                 f"{plan.work}: run `neardedup signatures` (all tasks) first")
        counts.append(r["docs"])
    return np.asarray(counts, dtype=np.int64)


# -- stage 2: buckets ---------------------------------------------------------------------------
def _band_hash(band: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row (docs, rows) -> (docs,); only a prefilter, groups are exact below."""
    h = np.full(band.shape[0], 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j in range(band.shape[1]):
        h ^= band[:, j].astype(np.uint64)
        h *= np.uint64(0xBF58476D1CE4E5B9)  # wraps modulo 2**64
        h ^= h >> np.uint64(31)
    return h


def buckets(plan: Plan, band: int, force: bool = False) -> dict:
    """Documents that share band ``band`` with another document, and their group.

    Memory is bounded by the band: 8 bytes of hash + 8 of sort order per document,
    plus the full rows only of the documents whose hash is shared (exact grouping).
    """
    out = plan.path("buckets", BAND.format(band) + ".npy")
    receipt = plan.path("buckets", BAND.format(band) + ".json")
    if not force and (r := receipt_ok(receipt, plan, out)):
        return r
    clear_temps(out, receipt)
    counts = part_docs(plan)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    sigs = [load_npy(plan.path("signatures", PART.format(k) + ".npy"), mmap=True) for k in range(len(counts))]
    hashes = np.concatenate([_band_hash(s[band]) for s in sigs]) if len(sigs) else np.zeros(0, np.uint64)
    order = np.argsort(hashes, kind="stable")
    sh = hashes[order]
    shared = np.zeros(len(sh), dtype=bool)
    if len(sh) > 1:
        same = sh[1:] == sh[:-1]
        shared[1:] |= same
        shared[:-1] |= same
    cand = np.sort(order[shared])  # documents whose band hash occurs more than once
    del hashes, order, sh, shared
    part_of = np.searchsorted(offsets, cand, side="right") - 1
    rows = np.empty((len(cand), plan.rows), dtype=np.uint32)
    for k in np.unique(part_of):
        sel = part_of == k
        rows[sel] = sigs[k][band][cand[sel] - offsets[k]]
    # exact groups of identical band values (what datasketch's hash table buckets on)
    _, group, size = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    keep = size[group] >= 2
    compact = np.cumsum(size >= 2) - 1  # groups numbered 0.. in order of their band values
    members = np.stack([cand[keep], compact[group[keep]]]).astype(np.int64)
    save_npy(out, members)
    return write_receipt(receipt, plan, [out], {"band": band, "members": int(members.shape[1]),
                                                "groups": int((size >= 2).sum()), "docs": int(offsets[-1])})
