"""Update semantics across files: order, versions, deletions, re-additions."""

from __future__ import annotations

import pytest

from data_prep.config import PubmedConfig
from data_prep.sources.pubmed.pubmed_part import extract_part
from data_prep.common.tasks import natural_key
from data_prep.stages.resolve import ResolveError, find_parts, resolve

from ..conftest import read_jsonl

TEXT = "An abstract long enough to pass the default minimum length of the extraction rules, " * 3


def cite(pmid: int, tag: str, version: int = 1, retracted: bool = False) -> str:
    types = "<PublicationType>Journal Article</PublicationType>"
    if retracted:
        types += "<PublicationType>Retracted Publication</PublicationType>"
    return (f'<PubmedArticle><MedlineCitation><PMID Version="{version}">{pmid}</PMID><Article>'
            f"<ArticleTitle>{tag}</ArticleTitle><Abstract><AbstractText>{TEXT}</AbstractText></Abstract>"
            f"<Language>eng</Language><PublicationTypeList>{types}</PublicationTypeList></Article></MedlineCitation></PubmedArticle>\n")


def delete(*pmids: int) -> str:
    return "<DeleteCitation>" + "".join(f'<PMID Version="1">{p}</PMID>' for p in pmids) + "</DeleteCitation>\n"


def write(path, *items: str):
    path.write_text("<PubmedArticleSet>\n" + "".join(items) + "</PubmedArticleSet>\n")
    return path


def run(tmp_path, files) -> dict[str, str]:
    parts = tmp_path / "parts"
    for f in files:
        extract_part(f, parts, PubmedConfig())
    out = tmp_path / "out.jsonl"
    resolve([parts / (f.name.removesuffix(".xml") + ".jsonl") for f in files], out)
    return {r["pmid"]: r["title"] for r in read_jsonl(out)}


def test_later_file_wins_even_with_a_lower_version(tmp_path):
    a = write(tmp_path / "a.xml", cite(7, "A-v2", version=2))
    b = write(tmp_path / "b.xml", cite(7, "B-v1", version=1))
    assert run(tmp_path, [a, b]) == {"7": "B-v1"}


def test_deletion_then_readdition(tmp_path):
    a = write(tmp_path / "a.xml", cite(8, "A"), cite(9, "A9"))
    b = write(tmp_path / "b.xml", cite(9, "B9"), delete(8, 9))
    c = write(tmp_path / "c.xml", cite(8, "C"))
    assert run(tmp_path, [a, b, c]) == {"8": "C"}


def test_newest_version_dropped_by_a_filter_removes_the_pmid(tmp_path):
    a = write(tmp_path / "a.xml", cite(5, "ok"), cite(6, "ok6"))
    b = write(tmp_path / "b.xml", cite(5, "retracted", retracted=True))
    assert run(tmp_path, [a, b]) == {"6": "ok6"}


def test_order_matters(tmp_path):
    a = write(tmp_path / "a.xml", cite(1, "A"))
    b = write(tmp_path / "b.xml", cite(1, "B"))
    assert run(tmp_path / "ab", [a, b]) == {"1": "B"}
    assert run(tmp_path / "ba", [b, a]) == {"1": "A"}


def test_directory_parts_follow_natural_name_order(tmp_path):
    parts = tmp_path / "parts"
    names = ["pubmed25n0010.xml", "pubmed25n0002.xml", "pubmed25n0100.xml"]
    for n in names:
        extract_part(write(tmp_path / n, cite(3, n)), parts, PubmedConfig())
    assert [p.name for p in find_parts([parts])] == [
        "pubmed25n0002.stats.json", "pubmed25n0010.stats.json", "pubmed25n0100.stats.json"]
    resolve([parts], tmp_path / "o.jsonl")
    assert read_jsonl(tmp_path / "o.jsonl")[0]["title"] == "pubmed25n0100.xml"
    assert sorted(["x10", "x9", "x100"], key=natural_key) == ["x9", "x10", "x100"]


def test_inconsistent_part_is_refused(tmp_path):
    parts = tmp_path / "parts"
    extract_part(write(tmp_path / "a.xml", cite(1, "A"), cite(2, "B")), parts, PubmedConfig())
    jsonl = parts / "a.jsonl"
    jsonl.write_text(jsonl.read_text().splitlines()[0] + "\n")  # a record lost
    with pytest.raises(ResolveError, match="corrupt"):
        resolve([parts], tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_no_parts_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResolveError, match="no extracted parts"):
        resolve([tmp_path / "empty"], tmp_path / "o.jsonl")
