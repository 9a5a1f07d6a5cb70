"""One PubMed citation element -> the fields we train on, following NLM's conventions.

* Only ``Article/Abstract/AbstractText`` is used (never ``OtherAbstract``, and
  ``CopyrightInformation`` is a sibling we ignore); labelled sections become
  ``"LABEL: text"`` lines (NLM's ``UNLABELLED`` label is dropped).
* ``[Not Available].`` titles count as missing; a title wholly enclosed in
  brackets (NLM's marker for an English translation of a non-English title)
  is unbracketed.
* The year comes from ``PubDate/Year``, else the first year in
  ``PubDate/MedlineDate`` ("1998 Dec-1999 Jan" -> 1998), else ``ArticleDate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from data_prep.sources.inline_text import flat_text, normalize_ws

NOT_AVAILABLE = {"[not available].", "[not available]", "not available", "not available."}
# Abstract texts NLM uses as placeholders; they carry no content.
PLACEHOLDER_ABSTRACTS = {
    "abstract available from the publisher.",
    "abstract available from the publisher",
    "abstract not available.",
    "no abstract available.",
    "no abstract available",
}
_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")


class RecordError(Exception):
    """A record that cannot be turned into a citation; ``kind`` is the accounting key."""

    def __init__(self, kind: str, message: str = ""):
        super().__init__(message or kind)
        self.kind = kind


@dataclass
class Citation:
    pmid: str
    version: int
    title: str
    abstract: str
    languages: list[str]
    year: int | None
    publication_types: list[str]


def parse_pmid(el: etree._Element | None) -> tuple[str, int]:
    """``(pmid, version)`` of a ``PMID`` element; raises ``RecordError('no_pmid')``."""
    text = (el.text or "").strip() if el is not None else ""
    if not text.isdigit() or int(text) <= 0:
        raise RecordError("no_pmid", f"missing or invalid PMID {text!r}")
    raw_version = (el.get("Version") or "1").strip()
    version = int(raw_version) if raw_version.isdigit() else 1
    return str(int(text)), version


def clean_title(raw: str) -> str:
    title = normalize_ws(raw)
    if title.lower() in NOT_AVAILABLE:
        return ""
    return unbracket(title)


def unbracket(title: str) -> str:
    """``"[Title in English]."`` -> ``"Title in English."`` when one bracket pair encloses it all."""
    if not title.startswith("["):
        return title
    suffix = "." if title.endswith("].") else ""
    body = title[:-1] if suffix else title
    if not body.endswith("]"):
        return title
    depth = 0
    for i, ch in enumerate(body):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0 and i != len(body) - 1:
                return title  # the opening bracket closes before the end: "[18F]FDG ..."
    inner = body[1:-1].strip()
    if not inner:
        return ""
    if suffix and inner.endswith((".", "?", "!")):
        suffix = ""
    return inner + suffix


def abstract_text(article: etree._Element) -> str:
    abstract = article.find("Abstract")
    if abstract is None:
        return ""
    sections = []
    for at in abstract.iterfind("AbstractText"):
        text = flat_text(at)
        if not text:
            continue
        label = normalize_ws(at.get("Label") or "")
        if label and label.upper() != "UNLABELLED":
            text = f"{label}: {text}"
        sections.append(text)
    joined = "\n".join(sections)
    if joined.lower() in PLACEHOLDER_ABSTRACTS:
        return ""
    return joined


def pub_year(article: etree._Element) -> int | None:
    pub_date = article.find("Journal/JournalIssue/PubDate")
    if pub_date is not None:
        y = (pub_date.findtext("Year") or "").strip()
        if y.isdigit():
            return int(y)
        m = _YEAR.search(pub_date.findtext("MedlineDate") or "")
        if m:
            return int(m.group(1))
    y = (article.findtext("ArticleDate/Year") or "").strip()
    return int(y) if y.isdigit() else None


def parse_citation(record: etree._Element) -> Citation:
    """Fields of a ``PubmedArticle`` element; raises :class:`RecordError`."""
    mc = record.find("MedlineCitation")
    if mc is None:
        raise RecordError("malformed_record", "PubmedArticle without MedlineCitation")
    pmid, version = parse_pmid(mc.find("PMID"))
    article = mc.find("Article")
    if article is None:
        raise RecordError("malformed_record", f"PMID {pmid}: no Article element")
    languages = [normalize_ws(x.text or "").lower() for x in article.iterfind("Language")]
    types = [normalize_ws(flat_text(x)) for x in article.iterfind("PublicationTypeList/PublicationType")]
    return Citation(
        pmid=pmid,
        version=version,
        title=clean_title(flat_text(article.find("ArticleTitle"))),
        abstract=abstract_text(article),
        languages=[x for x in languages if x],
        year=pub_year(article),
        publication_types=[t for t in types if t],
    )


def book_pmid(record: etree._Element) -> tuple[str, int]:
    """PMID of a ``PubmedBookArticle`` (raises ``RecordError('no_pmid')``)."""
    return parse_pmid(record.find("BookDocument/PMID"))


def deleted_pmids(record: etree._Element) -> list[str]:
    """PMIDs listed in a ``DeleteCitation`` element (invalid entries are skipped)."""
    out = []
    for el in record.iterfind("PMID"):
        try:
            out.append(parse_pmid(el)[0])
        except RecordError:
            continue
    return out
