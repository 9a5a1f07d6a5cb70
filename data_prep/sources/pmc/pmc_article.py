"""One JATS / NLM 2.3 ``<article>`` -> record fields (title, abstracts, body, licence, ids).

Handles both PMC's NLM Archiving DTD 2.3 and JATS 1.x (the element names we
use are the same; JATS 1.x adds ``ali:license_ref``).  Translated abstracts
(``trans-abstract``) and teaser/graphical abstracts are left out; other
abstracts (e.g. PLoS "Author Summary") are kept with their title as a heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from data_prep.sources.pmc.pmc_text import blocks, inline
from data_prep.sources.pubmed.pubmed_citation import RecordError
from data_prep.sources.safe_xml import local_name

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
SKIP_ABSTRACT_TYPES = {"teaser", "graphical", "toc", "web-summary"}
NOTICE_TYPES = {"correction", "retraction", "expression-of-concern", "addendum", "removal", "reply", "obituary"}
ISO639_1_TO_2 = {"en": "eng", "fr": "fre", "de": "ger", "es": "spa", "it": "ita", "pt": "por", "ja": "jpn",
                 "zh": "chi", "ru": "rus", "nl": "dut", "pl": "pol", "ko": "kor", "tr": "tur", "sv": "swe"}
_YEAR = re.compile(r"(1[6-9]\d\d|20\d\d)")


@dataclass
class PmcArticle:
    pmcid: str
    pmid: str | None
    title: str
    abstract: str
    body: str
    language: list[str]
    year: int | None
    article_type: str
    license: str | None


def _first(el: etree._Element, path: str) -> etree._Element | None:
    found = el.xpath(path)
    return found[0] if found else None


def article_ids(article: etree._Element) -> tuple[str | None, str | None]:
    pmcid = pmid = None
    for aid in article.xpath("front/article-meta/article-id"):
        kind, value = aid.get("pub-id-type"), (aid.text or "").strip()
        if kind in ("pmc", "pmcid") and value:
            digits = value.upper().removeprefix("PMC")
            if digits.isdigit():
                pmcid = f"PMC{int(digits)}"
        elif kind == "pmid" and value.isdigit():
            pmid = str(int(value))
    return pmcid, pmid


def license_of(article: etree._Element) -> str | None:
    """The licence URL (``xlink:href`` or ``ali:license_ref``), else its type, else its text."""
    lic = _first(article, "front/article-meta/permissions/license")
    if lic is None:
        return None
    ref = lic.get(XLINK_HREF) or next((normalize(e) for e in lic.iter() if local_name(e.tag) == "license_ref"), "")
    if ref:
        return ref.strip()
    text = normalize(lic)
    if text:
        return text[:300]
    return lic.get("license-type")


def normalize(el: etree._Element) -> str:
    return " ".join("".join(el.itertext()).split())


def pub_year(meta: etree._Element) -> int | None:
    dates = meta.xpath("pub-date")
    preferred = sorted(dates, key=lambda d: 0 if (d.get("pub-type") or d.get("date-type")) in ("epub", "ppub", "pub") else 1)
    for d in preferred:
        m = _YEAR.fullmatch((d.findtext("year") or "").strip())
        if m:
            return int(m.group(1))
    return None


def abstract_text(meta: etree._Element) -> str:
    parts: list[str] = []
    for ab in meta.iterfind("abstract"):
        if (ab.get("abstract-type") or "").lower() in SKIP_ABSTRACT_TYPES:
            continue
        lines = blocks(ab, [])
        if lines and lines[0].rstrip(":").lower() == "abstract":
            lines = lines[1:]
        parts.extend(lines)
    return "\n".join(parts)


def parse_article(article: etree._Element, fallback_pmcid: str | None = None) -> PmcArticle:
    """Fields of one ``article`` element; raises :class:`RecordError` (``no_pmcid``, ``malformed_record``)."""
    if local_name(article.tag) != "article":
        raise RecordError("malformed_record", f"expected <article>, got <{local_name(article.tag)}>")
    meta = article.find("front/article-meta")
    if meta is None:
        raise RecordError("malformed_record", "article without front/article-meta")
    pmcid, pmid = article_ids(article)
    pmcid = pmcid or fallback_pmcid
    if not pmcid:
        raise RecordError("no_pmcid", "article without a PMC id")
    title_el = meta.find("title-group/article-title")
    body_el = article.find("body")
    lang = (article.get("{http://www.w3.org/XML/1998/namespace}lang") or "en").lower().split("-")[0]
    return PmcArticle(
        pmcid=pmcid,
        pmid=pmid,
        title=inline(title_el) if title_el is not None else "",
        abstract=abstract_text(meta),
        body="\n".join(blocks(body_el, [])) if body_el is not None else "",
        language=[ISO639_1_TO_2.get(lang, lang)],
        year=pub_year(meta),
        article_type=(article.get("article-type") or "").strip(),
        license=license_of(article),
    )
