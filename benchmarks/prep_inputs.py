"""Inputs of bench_prep.py: a baseline-sized PubMed file built from every real sample record."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

_RECORD = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.S)
_PMID = re.compile(rb'<PMID Version="(\d+)">\d+</PMID>')


def pubmedqa_citations(samples: Path) -> list[bytes]:
    """The 500 PubMedQA test abstracts (real PubMed text) as MEDLINE citations: title = the question
    (PubMedQA derives it from the article title), one labelled AbstractText per section."""
    from xml.sax.saxutils import escape

    qa = samples / "pubmedqa" / "ori_pqal_test500_subset.json"
    if not qa.is_file():
        return []
    out = []
    for pmid, item in json.loads(qa.read_text()).items():
        sections = "".join(f'<AbstractText Label="{escape(lab)}">{escape(txt)}</AbstractText>'
                           for lab, txt in zip(item.get("LABELS", []), item.get("CONTEXTS", [])))
        out.append((f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
                    f'<Article PubModel="Print"><Journal><JournalIssue><PubDate><Year>{item.get("YEAR") or 2000}'
                    f'</Year></PubDate></JournalIssue><Title>PubMedQA</Title></Journal>'
                    f'<ArticleTitle>{escape(item["QUESTION"])}</ArticleTitle><Abstract>{sections}</Abstract>'
                    f'<Language>eng</Language><PublicationTypeList><PublicationType UI="D016428">Journal Article'
                    f'</PublicationType></PublicationTypeList></Article></MedlineCitation><PubmedData>'
                    f'<PublicationStatus>ppublish</PublicationStatus></PubmedData></PubmedArticle>').encode())
    return out


def source_records(samples: Path) -> tuple[list[bytes], str]:
    """Every real PubMed sample record (inline markup, MathML, structured abstracts) and the 500
    PubMedQA abstracts: 507 distinct citations, cycled with fresh PMIDs to the requested size."""
    files = sorted((samples / "pubmed").glob("*.xml")) if (samples / "pubmed").is_dir() else []
    records = [m.group(0) for f in files for m in _RECORD.finditer(f.read_bytes())]
    qa = pubmedqa_citations(samples)
    if records:
        return records + qa, (f"all {len(records)} real NLM records of {len(files)} files in {samples / 'pubmed'} "
                              f"+ {len(qa)} PubMedQA abstracts as MEDLINE citations")
    from data_prep.synthetic.sample_corpus import baseline_xml

    records = [m.group(0) for m in _RECORD.finditer(baseline_xml())]
    return records, f"{len(records)} synthetic sample citations (real samples not found at {samples})"


def build_file(records: list[bytes], n: int, path: Path) -> Path:
    """``n`` citations cycling through ``records``, each with a fresh PMID."""
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n')
        for i in range(n):
            pmid = str(40_000_000 + i).encode()
            rec = _PMID.sub(lambda m, pmid=pmid: b'<PMID Version="' + m.group(1) + b'">' + pmid + b"</PMID>",
                            records[i % len(records)], count=1)
            f.write(rec + b"\n")
        f.write(b"</PubmedArticleSet>\n")
    return path
