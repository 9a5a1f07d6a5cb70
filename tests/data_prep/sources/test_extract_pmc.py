"""``extract pmc``: JATS/NLM 2.3 text rules, licences, versions, archives, bad input, real samples."""

from __future__ import annotations

import io
import tarfile
import zlib

import pytest

from data_prep.cli import main
from data_prep.config import PmcConfig
from data_prep.sources.pmc.extract_pmc import extract_pmc
from data_prep.sources.pmc.licenses import allows_commercial, classify_license

from ..conftest import assert_balanced, read_jsonl

CFG = PmcConfig(min_chars=50)


@pytest.fixture(scope="module")
def pmc(fx, tmp_path_factory):
    out = tmp_path_factory.mktemp("pmc") / "pmc.jsonl"
    stats = extract_pmc([fx / "pmc"], out, CFG)
    return {r["pmcid"]: r for r in read_jsonl(out)}, stats, out


def test_text_rules(pmc):
    recs, _, _ = pmc
    r = recs["PMC1000001"]
    assert r["title"] == "Holin timing controls lysis in bacteriophage λ"
    assert r["abstract"].split("\n") == [
        "Background", "Lysis timing varies between genetically identical cells.", "Results",
        "Holin expression explained most of the variation.", "Author Summary",
        "Viruses that kill bacteria time their exit precisely."]
    body = r["body"].split("\n")
    assert body[:3] == ["Introduction", "Phenotypic noise is common in microbes. Bracketed lists are removed.",
                        "Superscript citations vanish too and author-year citations stay (Wang et al., 2008)."]
    assert "Rates follow k1 closely (see Figure 1)." in body
    assert body[body.index("Three steps were needed:") + 1: body.index("Three steps were needed:") + 4] == [
        "grow the cells,", "induce the prophage,", "and then measure lysis."]
    assert ["Methods", "Strains", "Strains were grown at 37 °C in LB medium."] == body[body.index("Methods"):body.index("Methods") + 3]
    assert "Boxed text is prose and is kept." in body
    assert "MUST-NOT-APPEAR" not in r["text"] and "DISPFORMULA" not in r["text"]
    assert r["text"] == "\n\n".join([r["title"], r["abstract"], r["body"]])
    assert (r["pmid"], r["year"], r["language"], r["license"]) == ("5000001", 2019, ["eng"],
                                                                    "https://creativecommons.org/licenses/by/4.0/")
    assert r["publication_types"] == ["research-article"] and r["id"] == "pmc:PMC1000001"


def test_nlm23_article_with_id_from_the_file_name(pmc):
    r = pmc[0]["PMC1000002"]
    assert r["pmid"] == "5000002" and r["year"] == 2008
    assert r["body"] == "Background\nQuestionnaires measure oral health-related quality of life.\nConclusion\nThe Dutch version is reliable and valid."
    assert classify_license(r["license"]) == "cc-by-nc"


def test_versions_notices_sets_and_accounting(pmc):
    recs, stats, out = pmc
    assert recs["PMC1000003"]["version"] == 2 and "ARTICLE-VERSION-2" in recs["PMC1000003"]["title"]
    assert {"PMC1000006", "PMC1000007"} <= set(recs)  # both articles of a pmc-articleset
    assert "PMC1000004" not in recs  # correction notice
    assert stats.dropped == {"notice": 1, "superseded": 1}
    assert stats.errors == {"malformed_xml": 1}
    assert "MALFORMED" not in out.read_text()
    assert_balanced(out.with_name("pmc.stats.json"))


def test_xxe_probe_in_jats_is_not_expanded(pmc):
    r = pmc[0]["PMC1000005"]
    assert r["body"] == "Results\nBefore and after: the text around the references survives but their content never appears."
    assert "XXE-SECRET" not in r["text"] and "INTERNAL-ENTITY" not in r["text"]


def test_commercial_subset(fx, tmp_path):
    out = tmp_path / "c.jsonl"
    stats = extract_pmc([fx / "pmc"], out, PmcConfig(min_chars=50, licenses="commercial"))
    assert {r["pmcid"] for r in read_jsonl(out)} == {"PMC1000001", "PMC1000003"}  # CC BY, CC0
    assert stats.dropped["license"] == 4


def test_licence_classification():
    assert classify_license("http://creativecommons.org/licenses/by/2.0") == "cc-by"
    assert classify_license("https://creativecommons.org/licenses/by-nc-nd/4.0/") == "cc-by-nc-nd"
    assert classify_license("CC BY-SA") == "cc-by-sa"
    assert classify_license("CC0") == "cc0"
    assert classify_license("http://creativecommons.org/publicdomain/mark/1.0/") == "public-domain"
    assert classify_license("Creative Commons Attribution License, which permits unrestricted use") == "cc-by"
    assert classify_license("All rights reserved by the publisher.") == "other"
    assert classify_license(None) is None
    assert allows_commercial("CC BY") and not allows_commercial("CC BY-NC") and not allows_commercial(None)


def _tar(path, members: dict[str, bytes], mode="w:gz"):
    with tarfile.open(path, mode) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def test_tarball_and_truncated_tarball(fx, tmp_path):
    members = {f"oa/{p.name}": p.read_bytes() for p in sorted((fx / "pmc").iterdir()) if p.name.startswith("PMC")}
    members["oa/readme.txt"] = b"not an article"
    tar = _tar(tmp_path / "bulk.tar.gz", members)
    out = tmp_path / "t.jsonl"
    extract_pmc([tar], out, CFG)
    recs = read_jsonl(out)
    assert {r["pmcid"] for r in recs} == {"PMC1000001", "PMC1000002", "PMC1000003"}
    assert recs[0]["source"] == "bulk.tar.gz:oa/PMC1000001.nxml"
    plain = _tar(tmp_path / "bulk.tar", members, mode="w")
    with tarfile.open(plain) as t:
        second = t.getmember("oa/PMC1000002.nxml")
    cut = tmp_path / "cut.tar"  # cut in the middle of the second article's data
    cut.write_bytes(plain.read_bytes()[: second.offset_data + second.size // 2])
    stats = extract_pmc([cut], tmp_path / "cut.jsonl", CFG)
    assert stats.errors == {"truncated_archive": 1}
    assert [r["pmcid"] for r in read_jsonl(tmp_path / "cut.jsonl")] == ["PMC1000001"]
    # A truncated .tar.gz: every member decompressed in full before the cut is kept.
    cut_gz = tmp_path / "cut.tar.gz"
    cut_gz.write_bytes(tar.read_bytes()[: int(tar.stat().st_size * 0.9)])
    salvaged = len(zlib.decompressobj(wbits=31).decompress(cut_gz.read_bytes()))
    with tarfile.open(plain) as t:
        complete = {m.name.split("/")[1][:10] for m in t.getmembers()
                    if m.offset_data + m.size <= salvaged and m.name.startswith("oa/PMC")}
    stats = extract_pmc([cut_gz], tmp_path / "cut_gz.jsonl", CFG)
    assert stats.errors == {"truncated_archive": 1}
    assert complete and {r["pmcid"] for r in read_jsonl(tmp_path / "cut_gz.jsonl")} == complete


def test_missing_input_exits_nonzero(fx, tmp_path):
    code = main(["extract", "pmc", str(fx / "pmc" / "PMC1000001.nxml"), str(tmp_path / "gone.nxml"),
                 "--out", str(tmp_path / "p.jsonl"), "--min-chars", "50"])
    assert code == 1
    d = assert_balanced(tmp_path / "p.stats.json")
    assert d["kept"] == 1 and str(tmp_path / "gone.nxml") in d["failed_inputs"]


def test_real_pmc_samples(samples_dir, tmp_path):
    out = tmp_path / "real.jsonl"
    stats = extract_pmc([samples_dir / "pmc"], out, PmcConfig())
    recs = {r["pmcid"]: r for r in read_jsonl(out)}
    assert len(recs) == 8 and stats.dropped == {"notice": 1}  # efetch_pmc.xml holds a correction
    rvf = recs["PMC3585041"]["body"]
    assert rvf.startswith("Introduction\nRift Valley fever (RVF) is a disease caused by a RNA virus")
    assert "[1]" not in rvf and "[4]–[7]" not in rvf and "[]" not in rvf
    assert "genus Phlebovirus. The disease" in rvf
    assert "(McMichael and Potter, 1980; Bayerdorffer et al, 1995)" in recs["PMC2994229"]["body"]
    for r in recs.values():
        assert r["pmid"] and r["year"] and r["body"] and "\n\n" not in r["body"]
    assert classify_license(recs["PMC3574550"]["license"]) == "cc-by-nc"
    assert classify_license(recs["PMC2599765"]["license"]) == "public-domain"
