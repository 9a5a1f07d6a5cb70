"""``extract pubmed``: every rule on the fixtures, accounting, bad input, reruns and array parts."""

from __future__ import annotations

import shutil

import pytest

from data_prep.cli import main
from data_prep.config import PubmedConfig
from data_prep.sources.pubmed.extract_pubmed import extract_pubmed
from data_prep.common.records import RECORD_KEYS

from ..conftest import assert_balanced, gzip_to, read_jsonl

RULES = PubmedConfig(min_chars=50)


@pytest.fixture()
def resolved(fx, tmp_path):
    out = tmp_path / "pubmed.jsonl"
    stats = extract_pubmed([fx / "pubmed_baseline.xml", fx / "pubmed_update.xml"], out, RULES)
    return out, stats, {r["pmid"]: r for r in read_jsonl(out)}


def test_update_semantics_and_filters(resolved):
    out, stats, recs = resolved
    assert set(recs) == {"1001", "1002", "1004", "1007", "1008", "1011", "1015", "1020"}
    assert "REVISED" in recs["1008"]["text"] and "ORIGINAL" not in recs["1008"]["text"]  # later file wins
    assert recs["1011"]["version"] == 2 and "VERSION-TWO-UPDATE" in recs["1011"]["title"]  # then highest version
    assert recs["1015"]["title"].startswith("SECOND-OCCURRENCE")  # same file, same version: later occurrence
    assert "1009" not in recs  # DeleteCitation
    assert "1010" not in recs  # the newest version is retracted
    assert recs["1004"]["title"] == "" and recs["1004"]["text"] == recs["1004"]["abstract"]
    assert recs["1020"]["source"] == "pubmed_update.xml" and recs["1001"]["source"] == "pubmed_baseline.xml"
    assert stats.dropped == {"book_article": 1, "retracted": 2, "language": 1, "no_abstract": 2, "too_short": 1,
                             "deleted": 1, "superseded": 5}
    assert stats.errors == {"malformed_xml": 1, "no_pmid": 1}
    assert stats.seen == 23 and stats.kept == 8
    d = assert_balanced(out.with_name("pubmed.stats.json"))
    assert d["info"]["deletions_listed"] == 2


def test_record_contract(resolved):
    _, _, recs = resolved
    for r in recs.values():
        assert list(r) == list(RECORD_KEYS)
        assert r["id"] == f"pmid:{r['pmid']}" and r["pmcid"] is None and r["body"] == "" and r["license"] is None
        assert r["text"] == "\n\n".join(p for p in (r["title"], r["abstract"]) if p)
        assert isinstance(r["year"], int) and r["language"] == ["eng"]
    assert recs["1007"]["year"] == 1998


def test_options_keep_more(fx, tmp_path):
    out = tmp_path / "all.jsonl"
    cfg = PubmedConfig(languages=["any"], keep_retracted=True, keep_title_only=True, min_chars=0)
    extract_pubmed([fx / "pubmed_baseline.xml"], out, cfg)
    recs = {r["pmid"]: r for r in read_jsonl(out)}
    assert {"1003", "1005", "1006", "1012", "1013"} <= set(recs)
    assert recs["1003"]["title"] == "Treatment of hypertension in the elderly." and recs["1003"]["language"] == ["ger"]
    assert recs["1005"]["abstract"] == "" and recs["1005"]["text"] == recs["1005"]["title"]
    assert "Retracted Publication" in recs["1006"]["publication_types"]


def test_xxe_probe_is_not_expanded(fx, tmp_path):
    out = tmp_path / "x.jsonl"
    stats = extract_pubmed([fx / "pubmed_xxe.xml"], out, RULES)
    text = out.read_text()
    assert "XXE-SECRET-MARKER" not in text and "INTERNAL-ENTITY-EXPANDED" not in text
    assert [r["pmid"] for r in read_jsonl(out)] == ["3002"]
    assert stats.errors == {"undefined_entity": 1}


def test_invalid_utf8_record_is_skipped_and_neighbours_kept(fx, tmp_path):
    out = tmp_path / "u.jsonl"
    stats = extract_pubmed([fx / "pubmed_bad_utf8.xml"], out, RULES)
    assert [r["pmid"] for r in read_jsonl(out)] == ["4001", "4003"]
    assert "café, α-helix" in read_jsonl(out)[0]["abstract"]
    assert stats.errors == {"invalid_utf8": 1}


def test_truncated_gzip_keeps_complete_records_before_the_cut(fx, tmp_path):
    full = gzip_to(fx / "pubmed_baseline.xml", tmp_path / "full.xml.gz").read_bytes()
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(full[: int(len(full) * 0.6)])
    ref, out = tmp_path / "ref.jsonl", tmp_path / "cut.jsonl"
    extract_pubmed([tmp_path / "full.xml.gz"], ref, RULES)
    stats = extract_pubmed([cut], out, RULES)
    strip = lambda recs: [{k: v for k, v in r.items() if k != "source"} for r in recs]  # noqa: E731
    got, want = strip(read_jsonl(out)), strip(read_jsonl(ref))
    assert 0 < len(got) < len(want)
    assert got == want[: len(got)]  # a clean prefix of the full file's records
    assert stats.errors.get("truncated_gzip") == 1
    assert_balanced(tmp_path / "cut.stats.json")


def test_truncated_plain_xml_counts_the_partial_record(fx, tmp_path):
    data = (fx / "pubmed_baseline.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(data[: data.index(b"<PMID Version=\"1\">1004</PMID>")])
    stats = extract_pubmed([cut], tmp_path / "o.jsonl", RULES)
    assert stats.errors == {"truncated_xml": 1}
    assert [r["pmid"] for r in read_jsonl(tmp_path / "o.jsonl")] == ["1001", "1002"]


def test_not_pubmed_file_is_an_error(fx, tmp_path):
    stats = extract_pubmed([fx / "not_pubmed.xml"], tmp_path / "n.jsonl", RULES)
    assert stats.errors == {"not_pubmed_xml": 1} and stats.kept == 0


def test_missing_file_is_reported_and_the_rest_processed(fx, tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    code = main(["extract", "pubmed", str(fx / "pubmed_baseline.xml"), str(tmp_path / "missing.xml.gz"),
                 str(fx / "pubmed_update.xml"), "--out", str(out), "--min-chars", "50"])
    assert code == 1
    assert len(read_jsonl(out)) == 8  # both real files resolved as usual
    d = assert_balanced(tmp_path / "m.stats.json")
    assert list(d["failed_inputs"]) == [str(tmp_path / "missing.xml.gz")]


def test_rerun_is_byte_identical_and_skips_parts(fx, tmp_path):
    files = [fx / "pubmed_baseline.xml", fx / "pubmed_update.xml"]
    out = tmp_path / "r.jsonl"
    extract_pubmed(files, out, RULES)
    first = out.read_bytes()
    part = tmp_path / "r.parts" / "pubmed_baseline.jsonl"
    mtime = part.stat().st_mtime_ns
    extract_pubmed(files, out, RULES)
    assert out.read_bytes() == first
    assert part.stat().st_mtime_ns == mtime  # up-to-date part reused
    extract_pubmed(files, out, PubmedConfig(min_chars=10))  # other rules: parts are redone
    assert part.stat().st_mtime_ns != mtime


def test_array_parts_then_resolve_equal_single_process(fx, tmp_path, monkeypatch):
    files = [str(fx / "pubmed_baseline.xml"), str(fx / "pubmed_update.xml"), str(fx / "pubmed_bad_utf8.xml")]
    single = tmp_path / "single.jsonl"
    assert main(["extract", "pubmed", *files, "--out", str(single), "--min-chars", "50"]) == 0
    parts = tmp_path / "parts"
    for task in range(2):  # task index from Slurm's variables, as in an array job
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
        assert main(["extract", "pubmed", *files, "--out", str(parts), "--min-chars", "50"]) == 0
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    monkeypatch.delenv("SLURM_ARRAY_TASK_COUNT")
    assert len(list(parts.glob("*.stats.json"))) == 3
    resolved = tmp_path / "resolved.jsonl"
    # resolve takes parts in command-line order (baseline, update, then the third file)
    part_files = [str(parts / n) for n in ("pubmed_baseline.jsonl", "pubmed_update.jsonl", "pubmed_bad_utf8.jsonl")]
    assert main(["resolve", *part_files, "--out", str(resolved)]) == 0
    assert resolved.read_bytes() == single.read_bytes()
    a, b = assert_balanced(tmp_path / "single.stats.json"), assert_balanced(tmp_path / "resolved.stats.json")
    assert (a["seen"], a["kept"], a["dropped"], a["errors"]) == (b["seen"], b["kept"], b["dropped"], b["errors"])


def test_task_flags_with_a_jsonl_output_are_refused(fx, tmp_path):
    assert main(["extract", "pubmed", str(fx / "pubmed_baseline.xml"), "--out", str(tmp_path / "o.jsonl"),
                 "--num-tasks", "2", "--task-index", "1"]) == 2


def test_duplicate_file_stems_are_refused(fx, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(fx / "pubmed_baseline.xml", other / "pubmed_baseline.xml")
    assert main(["extract", "pubmed", str(fx / "pubmed_baseline.xml"), str(other / "pubmed_baseline.xml"),
                 "--out", str(tmp_path / "o.jsonl")]) == 2
