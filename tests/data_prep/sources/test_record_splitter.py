"""Byte-level record cutting: chunk boundaries, malformed records, truncation."""

from __future__ import annotations

from data_prep.sources.pubmed.record_splitter import MALFORMED, RecordSplitter


def _feed(data: bytes, step: int) -> tuple[list[tuple[str, bytes]], bytes]:
    sp = RecordSplitter()
    out = []
    for i in range(0, len(data), step):
        out += sp.feed(data[i: i + step])
    return out, sp.pending()


def test_same_records_whatever_the_chunk_size(fx):
    data = (fx / "pubmed_baseline.xml").read_bytes()
    reference, pending = _feed(data, len(data))
    assert not pending
    assert [t for t, _ in reference].count("PubmedArticle") == 17
    assert [t for t, _ in reference].count("PubmedBookArticle") == 1
    for step in (1, 7, 512, 4096):
        assert _feed(data, step)[0] == reference


def test_root_tag_is_not_a_record():
    out, pending = _feed(b"<PubmedArticleSet><PubmedArticleSetX/></PubmedArticleSet>", 5)
    assert out == [] and pending == b""


def test_unclosed_record_is_cut_at_the_next_record():
    data = (b"<PubmedArticleSet><PubmedArticle><A>broken, never closed"
            b"<PubmedArticle><B>ok</B></PubmedArticle></PubmedArticleSet>")
    out, _ = _feed(data, 3)
    assert [t for t, _ in out] == [MALFORMED, "PubmedArticle"]
    assert out[1][1] == b"<PubmedArticle><B>ok</B></PubmedArticle>"


def test_truncated_record_is_pending():
    out, pending = _feed(b"<PubmedArticleSet><PubmedArticle><A>1</A></PubmedArticle><PubmedArticle><A>2", 4)
    assert len(out) == 1
    assert pending == b"<PubmedArticle><A>2"


def test_delete_citation_is_a_record():
    out, _ = _feed(b'<DeleteCitation><PMID Version="1">5</PMID></DeleteCitation>', 2)
    assert out == [("DeleteCitation", b'<DeleteCitation><PMID Version="1">5</PMID></DeleteCitation>')]
