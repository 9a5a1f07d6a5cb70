"""The record contract (JSONL between extraction and sharding) — see docs/CONTRACTS.md.

One JSON object per line, keys in a fixed order so identical inputs give
byte-identical files: ``id, pmid, pmcid, version, title, abstract, body, text,
language, year, publication_types, license, source``.
"""

from __future__ import annotations

import json

RECORD_KEYS = (
    "id", "pmid", "pmcid", "version", "title", "abstract", "body", "text",
    "language", "year", "publication_types", "license", "source",
)
PART_SEPARATOR = "\n\n"


def training_text(title: str, abstract: str, body: str = "") -> str:
    """Title, abstract and body, each non-empty part separated by a blank line."""
    return PART_SEPARATOR.join(p for p in (title, abstract, body) if p)


def make_record(
    *,
    pmid: str | None,
    pmcid: str | None,
    version: int,
    title: str,
    abstract: str,
    body: str = "",
    language: list[str],
    year: int | None,
    publication_types: list[str],
    license: str | None = None,
    source: str,
) -> dict:
    if pmcid:
        doc_id = f"pmc:{pmcid}"
    elif pmid:
        doc_id = f"pmid:{pmid}"
    else:
        raise ValueError("a record needs a PMID or a PMCID")
    return {
        "id": doc_id,
        "pmid": pmid,
        "pmcid": pmcid,
        "version": int(version),
        "title": title,
        "abstract": abstract,
        "body": body,
        "text": training_text(title, abstract, body),
        "language": list(language),
        "year": year,
        "publication_types": list(publication_types),
        "license": license,
        "source": source,
    }


def dumps(record: dict) -> str:
    """One JSONL line (with the newline), keys in contract order."""
    ordered = {k: record[k] for k in RECORD_KEYS}
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")) + "\n"


def check_record(obj) -> dict:
    """Validate a parsed JSONL object against the contract; raises ``ValueError``."""
    if not isinstance(obj, dict):
        raise ValueError("record is not a JSON object")
    missing = [k for k in RECORD_KEYS if k not in obj]
    if missing:
        raise ValueError(f"record lacks keys {missing}")
    if not isinstance(obj["id"], str) or not isinstance(obj["text"], str):
        raise ValueError("record id/text must be strings")
    return obj
