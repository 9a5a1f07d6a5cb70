"""BioASQ loader: shapes normalized, malformed questions reported by id and skipped."""

from __future__ import annotations

import pytest

from biomamba.eval.bioasq.data import BioASQFormatError, load_bioasq, parse_questions, yesno_label


def q(qid="q1", qtype="yesno", **extra):
    base = {"id": qid, "body": "Is it?", "type": qtype, "documents": [], "snippets": []}
    return {**base, **extra}


def test_exact_answer_shapes_are_normalized():
    data = {
        "questions": [
            q("y", "yesno", exact_answer="Yes, it is", ideal_answer="Yes."),
            q("f_flat", "factoid", exact_answer=["p53", "TP53"], ideal_answer=["p53."]),
            q("f_nested", "factoid", exact_answer=[["p53", "TP53"]]),
            q("l_nested", "list", exact_answer=[["IgG", "immunoglobulin G"], ["IgA"]]),
            q("l_flat", "list", exact_answer=["radius", "ulna"]),
            q("s", "summary", ideal_answer="It pumps ions."),
        ]
    }
    questions, report = parse_questions(data, "mem", require_answers=True)
    assert report.ok and report.seen == report.loaded == 6
    got = {x.id: x.exact_answer for x in questions}
    assert got == {
        "y": "yes",
        "f_flat": [["p53", "TP53"]],
        "f_nested": [["p53", "TP53"]],
        "l_nested": [["IgG", "immunoglobulin G"], ["IgA"]],
        "l_flat": [["radius"], ["ulna"]],
        "s": None,
    }
    assert questions[0].ideal_answers == ["Yes."] and questions[-1].ideal_answers == ["It pumps ions."]


def test_snippets_keep_text_and_offsets():
    snip = {
        "document": "http://www.ncbi.nlm.nih.gov/pubmed/1",
        "text": "Insulin lowers glucose.",
        "beginSection": "abstract",
        "endSection": "abstract",
        "offsetInBeginSection": 10,
        "offsetInEndSection": 33,
    }
    (question,), _ = parse_questions({"questions": [q(snippets=[snip])]}, "mem", require_answers=False)
    s = question.snippets[0]
    assert (s.text, s.document, s.begin_section, s.offset_begin, s.offset_end) == (
        "Insulin lowers glucose.",
        "http://www.ncbi.nlm.nih.gov/pubmed/1",
        "abstract",
        10,
        33,
    )


def test_malformed_questions_are_reported_by_id_and_skipped():
    data = {
        "questions": [
            q("ok", exact_answer="no"),
            q("no_body", body=""),
            q("bad_type", qtype="opinion"),
            q("maybe", exact_answer="maybe"),
            q("factoid_number", "factoid", exact_answer=5),
            q("list_mixed", "list", exact_answer=["a", ["b"]]),
            q("bad_snippet", snippets=[{"document": "d"}]),
            q("bad_offset", snippets=[{"text": "t", "offsetInBeginSection": "3"}]),
            q("no_exact", "factoid"),
            q("summary_no_ideal", "summary"),
            {"body": "no id", "type": "yesno"},
            q("ok", exact_answer="yes"),
            "not an object",
        ]
    }
    questions, report = parse_questions(data, "mem", require_answers=True)
    assert [x.id for x in questions] == ["ok"]
    skipped = {s.key: s.reason for s in report.skipped}
    assert set(skipped) == {
        "no_body",
        "bad_type",
        "maybe",
        "factoid_number",
        "list_mixed",
        "bad_snippet",
        "bad_offset",
        "no_exact",
        "summary_no_ideal",
        "#10",
        "ok",
        "#12",
    }
    assert "neither 'yes' nor 'no'" in skipped["maybe"]
    assert "duplicate" in skipped["ok"]
    assert report.seen == report.loaded + len(report.skipped) == 13
    assert "skipped 12" in report.summary()


def test_test_batch_without_answers_loads(tmp_path, write_json):
    path = write_json("batch.json", {"questions": [q("a"), q("b", "list"), q("c", "summary")]})
    questions, report = load_bioasq(path)
    assert report.ok and [x.exact_answer for x in questions] == [None, None, None]
    _, strict = load_bioasq(path, require_answers=True)
    assert [s.key for s in strict.skipped] == ["a", "b", "c"]


def test_file_level_errors_raise(tmp_path, write_json):
    with pytest.raises(BioASQFormatError, match="questions"):
        load_bioasq(write_json("x.json", [q()]))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BioASQFormatError, match="not valid JSON"):
        load_bioasq(bad)


@pytest.mark.parametrize(
    "text,label",
    [
        ("yes", "yes"),
        ("YES.", "yes"),
        ("no", "no"),
        ("None of the above", "no"),
        ("yes and no", "yes"),
        ("maybe", None),
    ],
)
def test_yesno_reading(text, label):
    assert yesno_label(text) == label
