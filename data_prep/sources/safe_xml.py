"""The one way data_prep parses XML: no DTD loading, no entity expansion, no network.

NLM files carry a ``<!DOCTYPE ...>`` pointing at a remote DTD; a hostile or
corrupted file could declare external entities (XXE).  Every parser here is
built with ``resolve_entities=False, no_network=True, load_dtd=False`` so such
declarations are never fetched or expanded; an unexpanded reference shows up as
an ``etree.Entity`` node that the text walkers skip.
"""

from __future__ import annotations

import threading

from lxml import etree

_local = threading.local()

# Prefixes that appear in NLM data, declared on the fallback wrapper when a
# record (cut out of its file) uses a prefix that its file declared on the root.
KNOWN_NAMESPACES = {
    "mml": "http://www.w3.org/1998/Math/MathML",
    "xlink": "http://www.w3.org/1999/xlink",
    "ali": "http://www.niso.org/schemas/ali/1.0/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}


def safe_parser() -> etree.XMLParser:
    """A per-thread parser (lxml parsers are not thread-safe)."""
    p = getattr(_local, "parser", None)
    if p is None:
        p = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = p
    return p


def parse_bytes(data: bytes) -> etree._Element:
    """Parse one XML fragment/document; raises ``etree.XMLSyntaxError``."""
    try:
        return etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        if "Namespace prefix" not in str(exc):
            raise
        # The record used a prefix declared on its (cut-away) root element.
        decls = " ".join(f'xmlns:{p}="{u}"' for p, u in KNOWN_NAMESPACES.items())
        wrapped = etree.fromstring(b"<wrap " + decls.encode() + b">" + data + b"</wrap>", safe_parser())
        return wrapped[0]


def parse_file(path) -> etree._ElementTree:
    return etree.parse(str(path), safe_parser())


def local_name(tag) -> str:
    """``{ns}name`` -> ``name``; comments/entities (non-str tags) -> ``""``."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def classify_syntax_error(data: bytes, exc: Exception) -> str:
    """Accounting key for a record that failed to parse."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    if "Entity" in str(exc):
        return "undefined_entity"
    return "malformed_xml"
