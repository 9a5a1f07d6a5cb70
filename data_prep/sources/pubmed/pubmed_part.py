"""Extract one PubMed XML(.gz) file into a "part": records + citation index + deletions + stats.

A part is what one Slurm array task produces for one input file::

    <dir>/<stem>.jsonl        kept records (record contract), in file order
    <dir>/<stem>.index.npy    every citation with a PMID: (pmid, version, status)
    <dir>/<stem>.deleted.npy  PMIDs listed in the file's DeleteCitation elements
    <dir>/<stem>.stats.json   accounting; written last, so it marks the part complete

Filters (language, retracted, ...) are applied here, but a dropped citation is
still listed in the index: if a later file revises a kept citation into a
retracted one, :mod:`data_prep.stages.resolve` must know the later version exists.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from lxml import etree

from biomamba.io import atomic_write_bytes
from data_prep.config import PubmedConfig
from data_prep.common.jsonl import AtomicJsonlWriter, remove_stale_temps
from data_prep.sources.pubmed.pubmed_citation import Citation, RecordError, book_pmid, deleted_pmids, parse_citation
from data_prep.sources.pubmed.record_splitter import MALFORMED, RecordSplitter, prune_unused
from data_prep.common.records import make_record
from data_prep.sources.safe_xml import classify_syntax_error, parse_bytes
from data_prep.common.stats import StageStats
from data_prep.common.streams import StreamError, iter_decompressed

# Index status codes: position in this tuple.  Append only (parts on disk use them).
INDEX_STATUS = ("kept", "retracted", "language", "no_abstract", "too_short")
INDEX_DTYPE = np.dtype([("pmid", "<i8"), ("version", "<i4"), ("status", "i1")])
RETRACTED_TYPE = "retracted publication"


def part_stem(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".xml", ".nxml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def part_files(part_dir: Path, stem: str) -> dict[str, Path]:
    return {k: part_dir / f"{stem}{ext}" for k, ext in
            (("jsonl", ".jsonl"), ("index", ".index.npy"), ("deleted", ".deleted.npy"), ("stats", ".stats.json"))}


def drop_reason(c: Citation, cfg: PubmedConfig) -> str | None:
    """Why a parsed citation is not used for training (``None``: keep it)."""
    if not cfg.keep_retracted and any(t.lower() == RETRACTED_TYPE for t in c.publication_types):
        return "retracted"
    if not cfg.any_language and not any(lang in cfg.languages for lang in c.languages):
        return "language"
    if not c.abstract and not cfg.keep_title_only:
        return "no_abstract"
    if not c.abstract and not c.title:
        return "no_abstract"
    if len(c.title) + len(c.abstract) < cfg.min_chars:
        return "too_short"
    return None


def input_signature(path: Path) -> dict:
    st = path.stat()
    return {"name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def part_is_current(files: dict[str, Path], signature: dict, cfg: PubmedConfig) -> bool:
    """True when a complete part exists for this exact input file and rules."""
    if not all(p.is_file() for p in files.values()):
        return False
    try:
        cfg_rec = json.loads(files["stats"].read_text()).get("config", {})
    except (OSError, ValueError):
        return False
    return cfg_rec.get("input") == signature and cfg_rec.get("rules") == cfg.rules()


def _save_npy(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


class _PartBuilder:
    """Accumulates one file's records, index rows and deletions."""

    def __init__(self, source: str, cfg: PubmedConfig, writer: AtomicJsonlWriter, stats: StageStats):
        self.source, self.cfg, self.writer, self.stats = source, cfg, writer, stats
        self.index: list[tuple[int, int, int]] = []
        self.deleted: list[int] = []

    def handle(self, tag: str, data: bytes) -> None:
        if tag == MALFORMED:
            self.stats.error("malformed_xml")
            return
        try:
            el = parse_bytes(prune_unused(data))
        except etree.XMLSyntaxError:
            try:
                el = parse_bytes(data)
            except etree.XMLSyntaxError as exc:
                self.stats.error(classify_syntax_error(data, exc))
                return
        try:
            if tag == "DeleteCitation":
                pmids = deleted_pmids(el)
                self.deleted.extend(int(p) for p in pmids)
                self.stats.add_info("deletions", len(pmids))
            elif tag == "PubmedBookArticle":
                book_pmid(el)
                self.stats.drop("book_article")
            else:
                self._citation(parse_citation(el))
        except RecordError as exc:
            self.stats.error(exc.kind)
        finally:
            el.clear()

    def _citation(self, c: Citation) -> None:
        reason = drop_reason(c, self.cfg)
        status = INDEX_STATUS.index(reason) if reason else 0
        self.index.append((int(c.pmid), c.version, status))
        if reason:
            self.stats.drop(reason)
            return
        self.writer.write_record(make_record(
            pmid=c.pmid, pmcid=None, version=c.version, title=c.title, abstract=c.abstract,
            language=c.languages, year=c.year, publication_types=c.publication_types, source=self.source,
        ))
        self.stats.keep()


def extract_part(path: str | Path, part_dir: str | Path, cfg: PubmedConfig, force: bool = False,
                 progress=None) -> StageStats:
    """Extract ``path`` into ``part_dir``; returns its stats (loaded from disk when already current).

    A missing or unreadable input is recorded in ``failed_inputs`` and no part
    is written, so a rerun retries it.
    """
    path, part_dir = Path(path), Path(part_dir)
    files = part_files(part_dir, part_stem(path))
    stats = StageStats("extract-pubmed-part", inputs=[str(path)])
    try:
        signature = input_signature(path)
    except OSError as exc:
        stats.fail_input(path, f"cannot read: {exc.strerror or exc}")
        return stats.finish()
    if not force and part_is_current(files, signature, cfg):
        return StageStats.load(files["stats"])
    part_dir.mkdir(parents=True, exist_ok=True)
    for p in files.values():
        remove_stale_temps(p)
    writer = AtomicJsonlWriter(files["jsonl"])
    builder = _PartBuilder(path.name, cfg, writer, stats)
    splitter = RecordSplitter()
    try:
        for chunk in iter_decompressed(path):
            for tag, data in splitter.feed(chunk):
                builder.handle(tag, data)
                if progress is not None:
                    progress.update()
    except StreamError as exc:
        stats.error(exc.kind)  # the unreadable remainder of the file counts as one lost unit
        stats.info["stream_error"] = str(exc)
    except OSError as exc:
        writer.abort()
        stats.fail_input(path, f"read failed: {exc.strerror or exc}")
        return stats.finish()
    else:
        if splitter.pending():
            stats.error("truncated_xml")
    if stats.seen == 0 and b"<PubmedArticleSet" not in splitter.header:
        stats.error("not_pubmed_xml")
    writer.commit()
    _save_npy(files["index"], np.array(builder.index, dtype=INDEX_DTYPE))
    _save_npy(files["deleted"], np.array(sorted(set(builder.deleted)), dtype="<i8"))
    stats.info["index_status"] = list(INDEX_STATUS)
    stats.finish().write(files["stats"], {"input": signature, "rules": cfg.rules()})
    return stats
