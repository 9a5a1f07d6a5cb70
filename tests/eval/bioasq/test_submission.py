"""Writing the official Phase-B submission; gold written as a submission scores 1.0."""

from __future__ import annotations

import json

import pytest

from biomamba.eval.bioasq.data import load_bioasq
from biomamba.eval.bioasq.scorer import score_files
from biomamba.eval.bioasq.submission import Answer, SubmissionFormatError, answer_to_json, write_submission


def test_shapes_and_caps():
    assert answer_to_json(Answer("y", "yesno", "yes", "Yes.")) == {
        "id": "y",
        "exact_answer": "yes",
        "ideal_answer": "Yes.",
    }
    f = answer_to_json(Answer("f", "factoid", [" a ", "", "b", "c", "d", "e", "f"], "x"))
    assert f["exact_answer"] == [["a"], ["b"], ["c"], ["d"], ["e"]]
    long = answer_to_json(Answer("l", "list", ["x" * 150] * 120, " ".join(["w"] * 300)))
    assert len(long["exact_answer"]) == 100 and len(long["exact_answer"][0][0]) == 100
    assert len(long["ideal_answer"].split()) == 200
    assert "exact_answer" not in answer_to_json(Answer("s", "summary", None, "text"))
    with pytest.raises(SubmissionFormatError, match="'yes' or 'no'"):
        answer_to_json(Answer("y", "yesno", "maybe"))
    with pytest.raises(SubmissionFormatError, match="list of strings"):
        answer_to_json(Answer("f", "factoid", "p53"))


def gold_as_answers(questions):
    out = []
    for q in questions:
        exact = q.exact_answer
        if q.type in ("factoid", "list"):
            exact = [entity[0] for entity in exact]
        out.append(Answer(q.id, q.type, exact, q.ideal_answers[0]))
    return out


def test_gold_against_itself_scores_one(repo_root, tmp_path):
    gold_path = repo_root / "biomamba/resources/sample/bioasq_sample.json"
    questions, report = load_bioasq(gold_path, require_answers=True)
    assert report.ok
    sub_path = tmp_path / "sub.json"
    written = write_submission(gold_as_answers(questions), sub_path)
    assert json.loads(sub_path.read_text()) == written
    result = score_files(gold_path, sub_path)
    assert result.warnings == []
    assert set(result.scores.values()) == {1.0}
    assert result.counts == {"yesno": 12, "factoid": 10, "list": 10, "summary": 7, "missing": 0, "gold_skipped": 0}
