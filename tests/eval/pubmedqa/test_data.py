"""PubMedQA loader: upper-case keys, bad records reported by PMID."""

from __future__ import annotations

import pytest

from biomamba.eval.pubmedqa.data import PubMedQAFormatError, load_ground_truth, parse_pubmedqa


def record(**over):
    base = {
        "QUESTION": "Does X help?",
        "CONTEXTS": ["Background.", "Results."],
        "LABELS": ["BACKGROUND", "RESULTS"],
        "MESHES": ["Humans"],
        "YEAR": "2001",
        "LONG_ANSWER": "X helps.",
        "final_decision": "yes",
    }
    return {**base, **over}


def test_parse_and_report():
    data = {
        "1": record(),
        "2": record(final_decision="perhaps"),
        "3": record(CONTEXTS=[]),
        "4": record(QUESTION=" "),
        "5": {k: v for k, v in record().items() if k != "final_decision"},
        "6": "nope",
    }
    items, report = parse_pubmedqa(data, "mem")
    assert [i.pmid for i in items] == ["1"]
    item = items[0]
    assert (item.question, item.contexts, item.long_answer, item.final_decision, item.year) == (
        "Does X help?",
        ["Background.", "Results."],
        "X helps.",
        "yes",
        "2001",
    )
    reasons = {s.key: s.reason for s in report.skipped}
    assert set(reasons) == {"2", "3", "4", "5", "6"}
    assert "perhaps" in reasons["2"] and "final_decision" in reasons["5"]
    unlabeled, r2 = parse_pubmedqa({"5": data["5"]}, "mem", require_label=False)
    assert r2.ok and unlabeled[0].final_decision is None


def test_ground_truth_labels_are_checked(write_json):
    assert load_ground_truth(write_json("gt.json", {"1": "yes", "2": "maybe"})) == {"1": "yes", "2": "maybe"}
    with pytest.raises(PubMedQAFormatError, match="not yes/no/maybe"):
        load_ground_truth(write_json("bad.json", {"1": "y"}))
