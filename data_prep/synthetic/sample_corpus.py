"""Generate the embedded sample corpus: synthetic PubMed baseline + update files.

Real NLM data is never committed; this deterministic generator writes a
project-made stand-in with the structure of a PubMed baseline and update file,
exercising every extraction rule: structured abstracts with labels, inline
markup and MathML, ``OtherAbstract``/``CopyrightInformation`` (ignored),
bracketed translated titles, ``[Not Available].`` titles, ``MedlineDate``
years, title-only and placeholder abstracts, retracted articles, book
articles, exact and near duplicates, and in the update file revised citations,
a versioned PMID, citations revised into retractions, new citations and
``DeleteCitation``.  :func:`sample_plan` tells tests which PMID is which.

    python -m data_prep.synthetic.sample_corpus [--out biomamba/resources/sample]
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import re
from pathlib import Path
from xml.sax.saxutils import escape

from data_prep.synthetic import sample_vocab as V

BASE_PMID = 90_000_001
N_BASELINE = 400
OUT_DIR = Path(__file__).resolve().parents[2] / "biomamba" / "resources" / "sample"
BASELINE_NAME = "pubmed_sample_baseline.xml.gz"
UPDATE_NAME = "pubmed_sample_update.xml.gz"
_NUMBER = re.compile(r"(?<=[\s(])(\d+)(?=[\s,.;)%])")
MATHML = ('<mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML">\n  <mml:msub>\n    <mml:mrow><mml:mover>'
          '<mml:mi>V</mml:mi><mml:mo>.</mml:mo></mml:mover></mml:mrow>\n    <mml:mrow><mml:mi>O</mml:mi>'
          '<mml:mn>2</mml:mn></mml:mrow>\n  </mml:msub>\n</mml:math>')


def kind_of(i: int) -> str:
    """Role of baseline citation ``i`` (fixed, so tests can rely on it)."""
    for mod, rem, kind in ((40, 7, "foreign"), (40, 13, "title_only"), (80, 21, "retracted"), (80, 61, "not_available"),
                           (50, 33, "exact_dup"), (50, 44, "near_dup"), (100, 90, "placeholder"), (100, 77, "short")):
        if i % mod == rem:
            return kind
    return "normal"


def sample_plan() -> dict:
    """Which PMIDs exercise which rule (used by the tests)."""
    pmid = lambda i: str(BASE_PMID + i)  # noqa: E731
    kinds = {i: kind_of(i) for i in range(N_BASELINE)}
    normal = [i for i, k in kinds.items() if k == "normal"]
    revised, deleted, retract, versioned = normal[10:30], normal[40:50], normal[60:62], normal[70]
    return {
        "baseline": {k: [pmid(i) for i, kk in kinds.items() if kk == k] for k in set(kinds.values())},
        "exact_dup_of": {pmid(i): pmid(i - 3) for i, k in kinds.items() if k == "exact_dup"},
        "near_dup_of": {pmid(i): pmid(i - 5) for i, k in kinds.items() if k == "near_dup"},
        "book_pmids": [str(BASE_PMID + 5000 + j) for j in range(3)],
        "revised": [pmid(i) for i in revised],
        "deleted": [pmid(i) for i in deleted],
        "revised_to_retracted": [pmid(i) for i in retract],
        "versioned": pmid(versioned),
        "new": [str(BASE_PMID + 1000 + j) for j in range(15)],
        "medline_date_years": {pmid(i): 1990 + i % 30 for i in range(N_BASELINE) if i % 25 == 3},
        "mathml": [pmid(i) for i in range(N_BASELINE) if i % 60 == 5 and kinds[i] == "normal"],
    }


def _context(rng: random.Random) -> dict:
    drug = rng.choice(sorted(V.DRUGS))
    diseases, measure = V.DRUGS[drug]
    gene = rng.choice(sorted(V.GENES))
    gdiseases, tissue, assay = V.GENES[gene]
    n, n2 = rng.randint(40, 4000), rng.randint(40, 4000)
    ratio = round(rng.uniform(1.1, 3.5), 2)
    pct = rng.randint(5, 60)
    disease, gdisease = rng.choice(diseases), rng.choice(gdiseases)
    return {
        "study": rng.choice(sorted(V.STUDIES)),
        "drug": drug, "drug_cap": drug[0].upper() + drug[1:], "disease": disease, "disease_cap": disease[0].upper() + disease[1:],
        "measure": measure, "gene": gene, "gene_disease": gdisease, "gene_disease_cap": gdisease[0].upper() + gdisease[1:],
        "tissue": tissue, "assay": assay, "pct_lo": max(1, pct - rng.randint(2, 5)), "pct_hi": pct + rng.randint(2, 5),
        "population": rng.choice(V.POPULATIONS), "design": rng.choice(V.DESIGNS), "organism": rng.choice(V.ORGANISMS),
        "outcome": rng.choice(V.OUTCOMES), "country": rng.choice(V.COUNTRIES), "n": n, "n2": n2,
        "k": rng.randint(2, 40), "k2": rng.randint(1, max(2, n2 // 10)), "dose": rng.choice([5, 10, 20, 40, 500, 1000]),
        "weeks": rng.choice([4, 8, 12, 24, 52]), "pct": pct, "lo": round(ratio * 0.7, 2), "hi": round(ratio * 1.4, 2),
        "p": rng.choice(["0.001", "0.01", "0.03", "0.046", "0.20"]), "ratio": ratio,
        "direction": rng.choice(["higher", "lower"]), "r2": rng.randint(1, 30), "y1": rng.randint(1995, 2010),
        "y2": rng.randint(2011, 2023),
    }


def _xml_text(template: str, ctx: dict) -> str:
    """Fill a template, XML-escape it, then add the inline markup (italic genes, superscripts)."""
    text = escape(template.format(**ctx))
    gene = escape(ctx["gene"])
    text = text.replace(gene, f"<i>{gene}</i>").replace("r&lt;sup&gt;2&lt;/sup&gt;", "r<sup>2</sup>")
    return text


def _sections(rng: random.Random, ctx: dict, mathml: bool) -> list[tuple[str, str, str]]:
    study = V.STUDIES[ctx["study"]]
    sizes = {"BACKGROUND": 2, "OBJECTIVE": 1, "METHODS": 3, "RESULTS": 2, "CONCLUSIONS": 1}
    picks = [(label, label, rng.sample(study[label], min(n, len(study[label])))) for label, n in sizes.items()]
    out = [(label, cat, " ".join(_xml_text(t, ctx) for t in temps)) for label, cat, temps in picks]
    if mathml:
        out[3] = (out[3][0], out[3][1], out[3][2] + f" Peak oxygen uptake ({MATHML}) increased by {ctx['pct']}%.")
    return out


def _abstract_xml(sections, structured: bool, extras: bool) -> str:
    if structured:
        body = "".join(f'<AbstractText Label="{lab}" NlmCategory="{cat}">{t}</AbstractText>' for lab, cat, t in sections)
    else:
        body = f"<AbstractText>{' '.join(t for _, _, t in sections)}</AbstractText>"
    if extras:
        body += "<CopyrightInformation>Copyright (c) Synthetic Publisher. All rights reserved.</CopyrightInformation>"
    return f"<Abstract>{body}</Abstract>"


def citation_xml(pmid: str, rng: random.Random, *, kind: str = "normal", version: int = 1, year: int = 2000,
                 medline_date: bool = False, retracted: bool = False, mathml: bool = False,
                 same_as: tuple[str, str] | None = None) -> str:
    """One ``PubmedArticle``; ``same_as`` = (title_xml, abstract_xml) reuses another citation's text."""
    ctx = _context(rng)
    lang = "eng"
    title = _xml_text(rng.choice(V.STUDIES[ctx["study"]]["TITLES"]), ctx)
    structured = rng.random() < 0.5
    abstract = _abstract_xml(_sections(rng, ctx, mathml), structured, extras=rng.random() < 0.2)
    if kind == "foreign":
        lang = rng.choice(sorted(V.FOREIGN))
        title = f"[{title[:-1]}]."
        abstract = f"<Abstract><AbstractText>{escape(V.FOREIGN[lang][1].format(**ctx))}</AbstractText></Abstract>"
    elif kind == "title_only":
        abstract = ""
    elif kind == "not_available":
        title = "[Not Available]."
    elif kind == "placeholder":
        abstract = "<Abstract><AbstractText>Abstract available from the publisher.</AbstractText></Abstract>"
    elif kind == "short":
        abstract = "<Abstract><AbstractText>Brief report.</AbstractText></Abstract>"
        title = "Case note."
    if same_as is not None:
        title, abstract = same_as
    other = ""
    if rng.random() < 0.1 and abstract:
        other = '<OtherAbstract Type="Publisher" Language="eng"><AbstractText>Plain-language summary that must not be used.</AbstractText></OtherAbstract>'
    date = (f"<MedlineDate>{year} Dec-{year + 1} Jan</MedlineDate>" if medline_date else f"<Year>{year}</Year><Month>{rng.choice(['Jan', 'Mar', 'Jun', 'Sep', 'Nov'])}</Month>")
    types = '<PublicationType UI="D016428">Journal Article</PublicationType>'
    if retracted:
        types += '<PublicationType UI="D016441">Retracted Publication</PublicationType>'
    elif "trial" in title:
        types += '<PublicationType UI="D016449">Randomized Controlled Trial</PublicationType>'
    journal = rng.choice(V.JOURNALS)
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="{version}">{pmid}</PMID>'
        f'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Print"><Volume>{rng.randint(1, 90)}</Volume>'
        f"<PubDate>{date}</PubDate></JournalIssue><Title>{journal}</Title></Journal>"
        f"<ArticleTitle>{title}</ArticleTitle>{abstract}"
        f'<AuthorList CompleteYN="Y"><Author ValidYN="Y"><LastName>Synthetic</LastName><Initials>{chr(65 + rng.randint(0, 25))}</Initials></Author></AuthorList>'
        f"<Language>{lang}</Language><PublicationTypeList>{types}</PublicationTypeList></Article>{other}"
        f"</MedlineCitation><PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">{pmid}</ArticleId></ArticleIdList></PubmedData>"
        "</PubmedArticle>\n"
    )


def _near_dup(title: str, abstract: str) -> tuple[str, str]:
    """The same text with one number in the prose changed: near- but not exactly duplicate."""
    changed = _NUMBER.sub(lambda m: str(int(m.group(1)) + 1), abstract, count=1)
    return title, changed if changed != abstract else abstract.replace("</AbstractText>", " Revised.</AbstractText>", 1)


def book_xml(pmid: str) -> str:
    return (f'<PubmedBookArticle><BookDocument><PMID Version="1">{pmid}</PMID><ArticleIdList><ArticleId IdType="bookaccession">NBK{pmid[-5:]}</ArticleId>'
            "</ArticleIdList><Book><BookTitle>Synthetic Handbook of Medicine</BookTitle></Book>"
            "<Abstract><AbstractText>A chapter of a synthetic handbook; book records are not used for pretraining.</AbstractText></Abstract>"
            "</BookDocument></PubmedBookArticle>\n")


def _wrap(body: str) -> bytes:
    head = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
            '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n')
    return (head + body + "</PubmedArticleSet>\n").encode("utf-8")


def _split_title_abstract(xml: str) -> tuple[str, str]:
    t0, t1 = xml.index("<ArticleTitle>") + len("<ArticleTitle>"), xml.index("</ArticleTitle>")
    a0 = xml.find("<Abstract>")
    a1 = xml.find("</Abstract>") + len("</Abstract>")
    return xml[t0:t1], xml[a0:a1] if a0 >= 0 else ""


def baseline_xml() -> bytes:
    plan = sample_plan()
    texts: dict[int, tuple[str, str]] = {}
    parts = []
    for i in range(N_BASELINE):
        rng = random.Random(f"biomamba-sample-baseline-{i}")
        kind = kind_of(i)
        same = texts[i - 3] if kind == "exact_dup" else _near_dup(*texts[i - 5]) if kind == "near_dup" else None
        pmid = str(BASE_PMID + i)
        xml = citation_xml(pmid, rng, kind=kind, year=1990 + i % 30, medline_date=i % 25 == 3,
                           retracted=kind == "retracted", mathml=pmid in plan["mathml"], same_as=same)
        texts[i] = _split_title_abstract(xml)
        parts.append(xml)
        if i % 150 == 149:
            parts.append(book_xml(plan["book_pmids"][i // 150]))
    parts.append(book_xml(plan["book_pmids"][2]))
    return _wrap("".join(parts))


def update_xml() -> bytes:
    plan = sample_plan()
    parts = []
    for j, pmid in enumerate(plan["revised"]):
        parts.append(citation_xml(pmid, random.Random(f"biomamba-sample-revised-{j}"), year=2021))
    for j, pmid in enumerate(plan["revised_to_retracted"]):
        parts.append(citation_xml(pmid, random.Random(f"biomamba-sample-retract-{j}"), year=2022, retracted=True))
    v = plan["versioned"]
    parts.append(citation_xml(v, random.Random("biomamba-sample-version-2"), version=2, year=2023))
    parts.append(citation_xml(v, random.Random("biomamba-sample-version-1"), version=1, year=2023))
    for j, pmid in enumerate(plan["new"]):
        parts.append(citation_xml(pmid, random.Random(f"biomamba-sample-new-{j}"), year=2024))
    deleted = plan["deleted"] + [str(BASE_PMID + 99_999)]  # the last one was never published: harmless
    parts.append("<DeleteCitation>" + "".join(f'<PMID Version="1">{p}</PMID>' for p in deleted) + "</DeleteCitation>\n")
    return _wrap("".join(parts))


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no file name, mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def write_sample(out_dir: str | Path = OUT_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in ((BASELINE_NAME, baseline_xml()), (UPDATE_NAME, update_xml())):
        path = out_dir / name
        path.write_bytes(gzip_bytes(data))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="write the synthetic PubMed sample (baseline + update .xml.gz)")
    ap.add_argument("--out", default=str(OUT_DIR))
    args = ap.parse_args(argv)
    for p in write_sample(args.out):
        print(f"{p} ({p.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
