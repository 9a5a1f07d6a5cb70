"""PubMed citation fields: abstracts, markup, titles, years — on fixtures and real NLM samples."""

from __future__ import annotations

import pytest

from data_prep.sources.pubmed.pubmed_citation import RecordError, clean_title, parse_citation, unbracket
from data_prep.sources.pubmed.record_splitter import RecordSplitter
from data_prep.sources.safe_xml import parse_bytes


def citations(path) -> dict[str, object]:
    sp = RecordSplitter()
    out = {}
    for tag, data in sp.feed(path.read_bytes()):
        if tag != "PubmedArticle":
            continue
        try:
            c = parse_citation(parse_bytes(data))
        except Exception:  # malformed fixtures are covered in test_extract_pubmed
            continue
        out[c.pmid] = c
    return out


@pytest.fixture(scope="module")
def base(fx):
    return citations(fx / "pubmed_baseline.xml")


def test_structured_abstract_labels_markup_and_exclusions(base):
    c = base["1001"]
    assert c.abstract.split("\n") == [
        "OBJECTIVE: Variants at the telomerase reverse transcriptase (TERT) gene region were studied.",
        "RESULTS: Risk rose across quintiles (ptrend=0.048; r2<0.25) in CO2-exposed cells.",
        "An unlabelled closing sentence.",  # NLM's UNLABELLED label is not training text
    ]
    assert c.title == "Telomere length and TERT variants in pancreatic cancer."
    assert "COPYRIGHT" not in c.abstract and "OTHERABSTRACT" not in c.abstract
    assert c.year == 2017 and c.languages == ["eng"] and c.version == 1


def test_mathml_is_linearized_without_layout_whitespace(base):
    assert "maximal oxygen uptake ( V.O2max ) of 67 ml/kg/min" in base["1002"].abstract


def test_pretty_printed_whitespace_is_normalized(base):
    assert base["1007"].abstract.startswith("Pretty-printed text with bold markup and irregular whitespace")


def test_titles(base):
    assert base["1003"].title == "Treatment of hypertension in the elderly."
    assert base["1003"].languages == ["ger"]
    assert base["1004"].title == ""
    assert unbracket("[18F]FDG uptake in tumours.") == "[18F]FDG uptake in tumours."
    assert unbracket("[Is it safe?].") == "Is it safe?"
    assert unbracket("[A [nested] title]") == "A [nested] title"
    assert clean_title("  [Not   Available]. ") == ""


def test_medline_date_year(base):
    assert base["1007"].year == 1998


def test_placeholder_abstract_counts_as_missing(base):
    assert base["1012"].abstract == ""
    assert base["1005"].abstract == ""


def test_record_without_pmid_raises():
    el = parse_bytes(b'<PubmedArticle><MedlineCitation><PMID Version="1"> </PMID><Article/></MedlineCitation></PubmedArticle>')
    with pytest.raises(RecordError) as err:
        parse_citation(el)
    assert err.value.kind == "no_pmid"


def test_real_nlm_samples(samples_dir):
    pubmed = samples_dir / "pubmed"
    c4 = next(iter(citations(pubmed / "pubmed4.xml").values()))
    # <i>TERT</i> with no surrounding spaces stays one word; sub/sup are glued to their base.
    assert "reverse transcriptase (TERT) gene region" in c4.abstract
    assert "ptrend=0.048" in c4.abstract and "r2<0.25" in c4.abstract
    c5 = next(iter(citations(pubmed / "pubmed5.xml").values()))
    assert [line.split(":")[0] for line in c5.abstract.split("\n")] == ["OBJECTIVES", "METHODS", "RESULTS", "CONCLUSIONS"]
    for name in ("pubmed6.xml", "pubmed7.xml"):
        c = next(iter(citations(pubmed / name).values()))
        assert "mml" not in c.abstract and "  " not in c.abstract
    c6 = next(iter(citations(pubmed / "pubmed6.xml").values()))
    assert "maximal oxygen uptake ( V.O2max ) 67.6" in c6.abstract
    pretty = next(iter(citations(pubmed / "pubmed-29768149.xml").values()))
    assert "fast-acting β 2-agonist" in pretty.abstract  # newline+tabs before <sub> become one space
    assert pretty.abstract.startswith("BACKGROUND: In patients with mild asthma")
    both = citations(pubmed / "pubmed1.xml")
    assert set(both) == {"12091962", "9997"}
    assert both["12091962"].abstract == ""  # a title-only citation
