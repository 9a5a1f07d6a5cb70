"""Cut a streamed PubMed file into top-level records at the byte level.

Why records are cut out before parsing instead of running one ``iterparse``
over the whole file: libxml2 stops a document at its first fatal error, so a
single invalid UTF-8 byte or broken tag would lose every later citation of the
file.  Cutting at ``<PubmedArticle>…</PubmedArticle>`` (tags cannot occur inside
text, where ``<`` is always escaped) gives each record its own parse, so one
bad record is counted and skipped while the rest are kept.  Each record is
still parsed with lxml's safe parser (:mod:`data_prep.sources.safe_xml`) and freed right
after use, so memory stays flat in the file size, as with iterparse + clear().
"""

from __future__ import annotations

import re

RECORD_TAGS = (b"PubmedArticle", b"PubmedBookArticle", b"DeleteCitation")
MALFORMED = "malformed"
# Keep this many bytes of an unmatched tail: enough for a partial start tag.
_TAIL = 64


class RecordSplitter:
    """Feed decompressed bytes; get ``(tag, record_bytes)`` for each complete record.

    ``tag`` is the record element name, or :data:`MALFORMED` for bytes that
    start a record whose end tag never came before the next record began.
    """

    def __init__(self, tags: tuple[bytes, ...] = RECORD_TAGS):
        names = b"|".join(re.escape(t) for t in tags)
        self._start = re.compile(rb"<(" + names + rb")[\s>/]")
        self._end = {t.decode(): re.compile(rb"</" + re.escape(t) + rb"\s*>") for t in tags}
        self._buf = b""
        self.header = b""  # the first 64 KiB, to check what kind of file this is

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        buf = self._buf + data if self._buf else data
        if len(self.header) < (1 << 16):
            self.header += data[: (1 << 16) - len(self.header)]
        out: list[tuple[str, bytes]] = []
        pos = 0
        while True:
            m = self._start.search(buf, pos)
            if m is None:
                self._buf = buf[max(pos, len(buf) - _TAIL):]
                return out
            tag = m.group(1).decode()
            s = m.start()
            e = self._end[tag].search(buf, m.end())
            nxt = self._start.search(buf, m.end(), e.start() if e else len(buf))
            if nxt is not None:
                # A new record starts before this one ended: cut it off as malformed.
                out.append((MALFORMED, buf[s:nxt.start()]))
                pos = nxt.start()
                continue
            if e is None:
                self._buf = buf[s:]
                return out
            out.append((tag, buf[s:e.end()]))
            pos = e.end()

    def pending(self) -> bytes:
        """Bytes of a record that started but never ended (a truncated file)."""
        m = self._start.search(self._buf)
        return self._buf[m.start():] if m else b""


# Elements of a citation that extraction never reads: dropping their bytes before parsing
# roughly halves the parse time on current NLM files (author lists, MeSH, references).  Tags
# cannot occur inside text, and none of these elements nests in itself, so a lazy match to
# the closing tag removes exactly one element; callers fall back to the full record if the
# pruned one does not parse.
_UNUSED = re.compile(
    rb"<(PubmedData|AuthorList|MeshHeadingList|CommentsCorrectionsList|ChemicalList|GrantList|KeywordList"
    rb"|InvestigatorList|SupplMeshList|GeneSymbolList|PersonalNameSubjectList|OtherAbstract|DataBankList)"
    rb"(?:\s[^>]*)?(?<!/)>.*?</\1\s*>",
    re.S,
)


def prune_unused(record: bytes) -> bytes:
    """``record`` without the elements extraction does not read (see ``_UNUSED``)."""
    return _UNUSED.sub(b"", record)
