"""``clean``: Unicode NFC, control characters out, PubMed/PMC overlap, exact and near dedup.

Order of the steps (each drop is counted under its own reason):

1. normalize every text field (NFC; control characters removed except
   newline; tabs become spaces) — ``empty`` if no text is left;
2. PubMed <-> PMC overlap by PMID: with ``prefer: fulltext`` (default) the
   PubMed abstract record is dropped when a PMC full text of the same PMID is
   in the inputs (``pmc_overlap``); with ``prefer: abstract`` the PMC record is;
3. exact duplicates of the normalized text (``exact_duplicate``);
4. near duplicates by MinHash-LSH (``near_duplicate``).

Records keep their input order; the first occurrence of a duplicate wins.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from data_prep.config import CleanConfig
from data_prep.stages.clean.dedup import ExactDeduper, NearDeduper
from data_prep.common.jsonl import AtomicJsonlWriter, iter_records, remove_stale_temps
from data_prep.common.progress import Progress
from data_prep.common.records import RECORD_KEYS
from data_prep.common.stats import StageStats

# Remove C0/C1 control characters except newline; tab -> space.
_CONTROL = {c: None for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)) if c != 0x0A}
_CONTROL[0x09] = " "
TEXT_FIELDS = ("title", "abstract", "body", "text")


def normalize_text(s: str) -> str:
    return unicodedata.normalize("NFC", s.translate(_CONTROL))


def normalize_record(rec: dict) -> dict:
    for k in TEXT_FIELDS:
        if isinstance(rec.get(k), str):
            rec[k] = normalize_text(rec[k])
    return rec


def overlap_pmids(inputs: list[Path], prefer: str) -> set[int]:
    """PMIDs whose *other* form is also present: with ``prefer=fulltext`` the PMIDs of
    PMC records (their PubMed abstracts go), with ``prefer=abstract`` the PMIDs of
    PubMed records (their PMC full texts go).  A pre-pass over the inputs."""
    pmc: set[int] = set()
    pubmed: set[int] = set()
    for path in inputs:
        for _, rec in iter_records(path):
            if rec.get("pmid") and str(rec["pmid"]).isdigit():
                (pmc if rec.get("pmcid") else pubmed).add(int(rec["pmid"]))
    return pmc & pubmed if prefer == "abstract" else pmc


def clean(inputs: list[str | Path], out: str | Path, cfg: CleanConfig) -> StageStats:
    inputs, out = [Path(p) for p in inputs], Path(out)
    stats = StageStats("clean", inputs=[str(p) for p in inputs])
    for p in inputs:
        if not p.is_file():
            stats.fail_input(p, "no such file")
    inputs = [p for p in inputs if p.is_file()]
    overlap = overlap_pmids(inputs, cfg.prefer)
    exact = ExactDeduper() if cfg.exact_dedup else None
    near = NearDeduper(cfg.near_dup_threshold, cfg.num_perm, cfg.shingle_words) if cfg.near_dedup else None
    remove_stale_temps(out)
    with AtomicJsonlWriter(out) as writer, Progress("clean", unit="records") as bar:
        for path in inputs:
            for _, rec in iter_records(path, stats):
                bar.update()
                reason = _drop_reason(normalize_record(rec), overlap, exact, near, cfg)
                if reason:
                    stats.drop(reason)
                    continue
                writer.write_record({k: rec[k] for k in RECORD_KEYS})
                stats.keep()
        stats.info["output_sha256"] = writer.sha256
    stats.info["overlap_pmids"] = len(overlap)
    return stats.finish()


def _drop_reason(rec: dict, overlap: set[int], exact, near, cfg: CleanConfig) -> str | None:
    if not rec["text"].strip():
        return "empty"
    if overlap and rec.get("pmid") and str(rec["pmid"]).isdigit() and int(rec["pmid"]) in overlap:
        is_pmc = bool(rec.get("pmcid"))
        if is_pmc == (cfg.prefer == "abstract"):
            return "pmc_overlap"
    if exact is not None and exact.is_duplicate(rec["text"]):
        return "exact_duplicate"
    if near is not None and near.is_duplicate(rec["text"]):
        return "near_duplicate"
    return None
