"""JATS body/abstract text: paragraphs and section headings, without the non-prose parts.

Dropped: tables and figures (with captions), references, footnotes,
supplementary material, display formulas, graphics/media, footnote markers, and citation
fragments left by ``<xref ref-type="bibr">`` ("[1–3]", "[4]", superscript
numbers).  Author-year citations ("Smith et al., 2001") are words of the
sentence and are kept.  Inline MathML is linearized (see :mod:`inline_text`).
"""

from __future__ import annotations

import re

from lxml import etree

from data_prep.sources.inline_text import flatten, normalize_ws
from data_prep.sources.safe_xml import local_name

SKIP = frozenset({
    "table-wrap", "table-wrap-group", "table", "fig", "fig-group", "ref-list", "ref", "fn-group", "fn",
    "supplementary-material", "graphic", "inline-graphic", "media", "disp-formula", "disp-formula-group",
    "alternatives", "chem-struct-wrap", "array", "code", "preformat", "caption", "label", "object-id",
    "sec-meta", "glossary", "back", "floats-group", "processing-meta", "permissions", "kwd-group", "tex-math",
})
BLOCK = frozenset({"sec", "p", "list", "list-item", "disp-quote", "boxed-text", "statement", "def-list",
                   "def-item", "def", "term", "speech", "verse-group", "app", "abstract", "body", "notes"})
CITE = "\x00"  # marks a removed citation; XML text can never contain NUL
_NUMERIC_CITATION = re.compile(r"[\s\[\]()\d,;\-–—]*")
_BRACKETED = re.compile(r"\s*[\[(](?:[\s,;\-–—]|\x00)*\x00(?:[\s,;\-–—]|\x00)*[\])]")
_RUN = re.compile(r"\s*\x00(?:[\s,;\-–—]*\x00)*")


def _special(child: etree._Element, name: str) -> str | None:
    if name == "xref" and child.get("ref-type") in ("fn", "table-fn"):
        return ""  # footnote markers (*, †, a) point at dropped footnotes
    if name == "xref" and child.get("ref-type") == "bibr":
        text = "".join(child.itertext())
        if _NUMERIC_CITATION.fullmatch(text):
            return CITE
    return None


def remove_citation_marks(text: str) -> str:
    """Delete numeric citation fragments (with their brackets and separators)."""
    if CITE not in text:
        return text
    text = _BRACKETED.sub("", text)
    text = _RUN.sub("", text)
    return text.replace(CITE, "")


def inline(el: etree._Element) -> str:
    """Flattened, cleaned, whitespace-normalized text of an inline context (a ``p``, a ``title``)."""
    return normalize_ws(remove_citation_marks(flatten(el, SKIP, _special)))


def blocks(el: etree._Element, out: list[str]) -> list[str]:
    """Append the headings and paragraphs under ``el`` to ``out`` (document order)."""
    for child in el:
        name = local_name(child.tag)
        if not name or name in SKIP:
            continue
        if name == "title":
            heading = inline(child)
            if heading:
                out.append(heading)
        elif name == "p" and not any(local_name(c.tag) in BLOCK for c in child):
            text = inline(child)
            if text:
                out.append(text)
        elif name in BLOCK or _has_block_child(child):
            if name == "p":
                _mixed_paragraph(child, out)
            else:
                blocks(child, out)
        else:
            text = inline(child)
            if text:
                out.append(text)
    return out


def _has_block_child(el: etree._Element) -> bool:
    return any(local_name(c.tag) in BLOCK or local_name(c.tag) == "title" for c in el)


def _mixed_paragraph(p: etree._Element, out: list[str]) -> None:
    """A ``p`` holding block elements (a list inside a paragraph): text runs and blocks in order."""
    run = [p.text or ""]
    for child in p:
        name = local_name(child.tag)
        if name in BLOCK:
            _flush(run, out)
            blocks(child, out) if name != "p" else out.append(inline(child))
            run = [child.tail or ""]
            continue
        if name and name not in SKIP:
            rep = _special(child, name)
            run.append(rep if rep is not None else flatten(child, SKIP, _special))
        run.append(child.tail or "")
    _flush(run, out)


def _flush(run: list[str], out: list[str]) -> None:
    text = normalize_ws(remove_citation_marks("".join(run)))
    if text:
        out.append(text)
