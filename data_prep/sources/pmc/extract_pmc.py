"""``extract pmc``: JATS articles (files, folders, tarballs) -> records, one per PMC id.

When the same PMC id occurs more than once (several article versions, or an
article in two inputs) the highest version wins, then the later occurrence;
the others are counted as ``superseded``.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from data_prep.config import PmcConfig
from data_prep.common.jsonl import AtomicJsonlWriter, iter_lines, remove_stale_temps
from data_prep.sources.pmc.licenses import allows_commercial
from data_prep.sources.pmc.pmc_article import NOTICE_TYPES, PmcArticle, parse_article
from data_prep.sources.pmc.pmc_sources import Document, iter_documents
from data_prep.common.progress import Progress
from data_prep.sources.pubmed.pubmed_citation import RecordError
from data_prep.common.records import make_record, training_text
from data_prep.sources.safe_xml import classify_syntax_error, local_name, parse_bytes
from data_prep.common.stats import StageStats


def drop_reason(a: PmcArticle, cfg: PmcConfig) -> str | None:
    if not cfg.keep_notices and a.article_type.lower() in NOTICE_TYPES:
        return "notice"
    if cfg.licenses == "commercial" and not allows_commercial(a.license):
        return "license"
    if "any" not in cfg.languages and not any(lang in cfg.languages for lang in a.language):
        return "language"
    if cfg.require_body and not a.body:
        return "no_body"
    if len(training_text(a.title, a.abstract, a.body)) < cfg.min_chars:
        return "too_short"
    return None


def articles_in(doc: Document, stats: StageStats):
    """Parse a document; yields ``article`` elements (one, or several for a ``pmc-articleset``)."""
    try:
        root = parse_bytes(doc.data)
    except etree.XMLSyntaxError as exc:
        stats.error(classify_syntax_error(doc.data, exc))
        return
    if local_name(root.tag) == "article":
        yield root
    else:
        found = [el for el in root if local_name(el.tag) == "article"]
        if not found:
            stats.error("not_jats")
        yield from found


def extract_pmc(inputs: list[str | Path], out: str | Path, cfg: PmcConfig) -> StageStats:
    out = Path(out)
    if not out.name.endswith(".jsonl"):
        raise ValueError(f"--out must name a .jsonl file, got {out}")
    stats = StageStats("extract-pmc", inputs=[str(p) for p in inputs])
    remove_stale_temps(out)
    candidates = AtomicJsonlWriter(out.with_name(out.name + ".candidates"))
    best: dict[str, tuple[int, int]] = {}  # pmcid -> (version, line number)
    line_ids: list[tuple[str, int]] = []
    with Progress("extract pmc", unit="articles") as bar:
        for doc in iter_documents(inputs, stats):
            for el in articles_in(doc, stats):
                bar.update()
                try:
                    a = parse_article(el, fallback_pmcid=doc.name_pmcid)
                except RecordError as exc:
                    stats.error(exc.kind)
                    continue
                reason = drop_reason(a, cfg)
                if reason:
                    stats.drop(reason)
                    continue
                version = doc.name_version
                candidates.write_record(make_record(
                    pmid=a.pmid, pmcid=a.pmcid, version=version, title=a.title, abstract=a.abstract, body=a.body,
                    language=a.language, year=a.year, publication_types=[a.article_type] if a.article_type else [],
                    license=a.license, source=doc.source,
                ))
                line_no = len(line_ids)
                line_ids.append((a.pmcid, version))
                if a.pmcid not in best or version >= best[a.pmcid][0]:
                    best[a.pmcid] = (version, line_no)
    candidates.commit()
    winners = {line for _, line in best.values()}
    with AtomicJsonlWriter(out) as writer:
        for line_no, line in enumerate(iter_lines(candidates.path)):
            if line_no in winners:
                writer.write_line(line)
                stats.keep()
            else:
                stats.drop("superseded")
        stats.info["output_sha256"] = writer.sha256
    candidates.path.unlink()
    stats.finish().write(out.with_name(out.name[: -len(".jsonl")] + ".stats.json"), {"pmc": cfg.to_dict()})
    return stats
