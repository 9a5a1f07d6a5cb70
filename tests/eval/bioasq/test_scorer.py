"""Every Phase-B scoring rule on hand-computed cases."""

from __future__ import annotations

import json

import pytest

from biomamba.eval.bioasq.data import Question, parse_questions
from biomamba.eval.bioasq.scorer import list_scores, score_files, score_phase_b


def gold(qid, qtype, exact, ideal=()):
    return Question(qid, f"question {qid}", qtype, exact_answer=exact, ideal_answers=list(ideal))


def sub(qid, exact=None, ideal=None):
    out = {"id": qid}
    if exact is not None:
        out["exact_answer"] = exact
    if ideal is not None:
        out["ideal_answer"] = ideal
    return out


def submission(*questions):
    return {q["id"]: q for q in questions}


def test_yesno_accuracy_and_macro_f1_by_hand():
    g = [
        gold("q1", "yesno", "yes"),
        gold("q2", "yesno", "no"),
        gold("q3", "yesno", "yes"),
        gold("q4", "yesno", "no"),
        gold("q5", "yesno", "yes"),
        gold("q6", "yesno", "no"),
    ]
    s = submission(
        sub("q1", "Yes"),  # correct
        sub("q2", "None of the above"),  # contains "no" -> no: correct
        sub("q3", "none"),  # no, gold yes: wrong
        sub("q4", "yes"),  # wrong
        sub("q5", "maybe"),  # neither: wrong
        sub("q6", "NO."),  # correct
    )
    r = score_phase_b(g, s).scores
    assert r["yesno_accuracy"] == pytest.approx(3 / 6)
    # yes: TP=1 (q1); wrong on gold-yes = 2 (q3, q5); wrong on gold-no = 1 (q4) -> 2/(2+2+1)
    assert r["yesno_f1_yes"] == pytest.approx(2 / 5)
    # no: TP=2 (q2, q6); wrong on gold-no = 1 (q4); wrong on gold-yes = 2 (q3, q5) -> 4/(4+1+2)
    assert r["yesno_f1_no"] == pytest.approx(4 / 7)
    assert r["yesno_macro_f1"] == pytest.approx((2 / 5 + 4 / 7) / 2)


def test_yesno_empty_answer_is_wrong():
    r = score_phase_b([gold("q", "yesno", "no")], submission(sub("q", ""))).scores
    assert r["yesno_accuracy"] == 0.0 and r["yesno_macro_f1"] == 0.0


def test_factoid_strict_lenient_mrr_by_hand():
    g = [
        gold("f1", "factoid", [["p53", "TP53"]]),
        gold("f2", "factoid", [["insulin"]]),
        gold("f3", "factoid", [["liver"]]),
    ]
    s = submission(
        sub("f1", [["mdm2"], ["BRCA1"], ["tp53"]]),  # correct at rank 3 (lower-cased synonym)
        sub("f2", [["Insulin"], ["glucagon"]]),  # correct at rank 1
        sub("f3", []),  # nothing submitted
    )
    r = score_phase_b(g, s)
    assert r.scores["factoid_strict_accuracy"] == pytest.approx(1 / 3)
    assert r.scores["factoid_lenient_accuracy"] == pytest.approx(2 / 3)
    assert r.scores["factoid_mrr"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert r.per_question[0]["rr"] == pytest.approx(1 / 3)


def test_factoid_reads_only_first_string_and_matches_exactly():
    g = [gold("f", "factoid", [["p53"]])]
    assert score_phase_b(g, submission(sub("f", [["mdm2", "p53"]]))).scores["factoid_lenient_accuracy"] == 0.0
    assert score_phase_b(g, submission(sub("f", [[" p53"]]))).scores["factoid_lenient_accuracy"] == 0.0



def test_list_duplicates_synonyms_and_empty_answer_by_hand():
    g = [
        gold("l1", "list", [["adenine"], ["guanine"], ["cytosine"], ["thymine"]]),
        gold("l2", "list", [["radius"], ["ulna"]]),
        gold("l3", "list", [["IgG", "immunoglobulin G"], ["IgA"]]),
    ]
    s = submission(
        # TP adenine, FP duplicate adenine, FP uracil, TP guanine; FN cytosine, thymine
        sub("l1", [["Adenine"], ["adenine"], ["uracil"], ["guanine"]]),
        sub("l2", []),  # empty answer scores 0
        sub("l3", [["immunoglobulin g"]]),  # synonym: TP 1, FN 1 (IgA)
    )
    r = score_phase_b(g, s)
    rows = {row["id"]: row for row in r.per_question}
    assert (rows["l1"]["precision"], rows["l1"]["recall"], rows["l1"]["f1"]) == (0.5, 0.5, 0.5)
    assert (rows["l2"]["precision"], rows["l2"]["recall"], rows["l2"]["f1"]) == (0.0, 0.0, 0.0)
    assert rows["l3"]["precision"] == 1.0 and rows["l3"]["recall"] == 0.5
    assert rows["l3"]["f1"] == pytest.approx(2 / 3)
    assert r.scores["list_mean_precision"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert r.scores["list_mean_recall"] == pytest.approx((0.5 + 0 + 0.5) / 3)
    assert r.scores["list_mean_f1"] == pytest.approx((0.5 + 0 + 2 / 3) / 3)


def test_list_second_pass_like_the_official_code():
    # Gold entities sharing a synonym: "a" consumes the first; the second is not a FN
    # because a submitted item still equals one of its synonyms (official second pass).
    assert list_scores([["a"], ["a", "b"]], ["a"]) == (1.0, 1.0, 1.0)
    assert list_scores([["a"], ["b"]], ["a"]) == (1.0, 0.5, pytest.approx(2 / 3))


def test_missing_questions_score_zero_or_are_skipped():
    g = [gold("y1", "yesno", "yes"), gold("y2", "yesno", "no"), gold("f", "factoid", [["x"]], ideal=["an answer"])]
    s = submission(sub("y1", "yes"))
    zero = score_phase_b(g, s)
    assert zero.scores["yesno_accuracy"] == 0.5 and zero.scores["factoid_mrr"] == 0.0
    assert zero.scores["rouge2_f1"] == 0.0 and zero.counts["missing"] == 2
    skip = score_phase_b(g, s, missing="skip")
    assert skip.scores["yesno_accuracy"] == 1.0 and skip.scores["yesno_macro_f1"] == 0.5  # F1(no)=0: no gold no left
    assert skip.per_question == [{"id": "y1", "type": "yesno", "missing": False, "correct": True}]


def test_summary_gets_rouge_but_no_exact_score():
    g = [gold("s", "summary", None, ideal=["the pump moves sodium out of the cell"])]
    r = score_phase_b(g, submission(sub("s", exact=["ignored"], ideal="the pump moves sodium out of the cell")))
    exact_keys = [k for k in r.scores if not k.startswith("rouge")]
    assert all(r.scores[k] == 0.0 for k in exact_keys)
    assert r.counts["summary"] == 1 and r.scores["rouge2_f1"] == 1.0 and r.scores["rougesu4_recall"] == 1.0
    assert set(r.per_question[0]) == {"id", "type", "missing", "rouge2_recall", "rouge2_f1", "rougesu4_recall",
                                      "rougesu4_f1"}


def test_wrong_shapes_score_zero_with_a_warning():
    g = [gold("f", "factoid", [["p53"]]), gold("y", "yesno", "yes"), gold("l", "list", [["a"]], ideal=["a b"])]
    s = submission(sub("f", ["p53"]), sub("y", ["yes"]), sub("l", [["a"]], ideal=7))
    r = score_phase_b(g, {**s, "stranger": {"id": "stranger"}})
    assert r.scores["factoid_lenient_accuracy"] == 0.0 and r.scores["yesno_accuracy"] == 0.0
    assert r.scores["list_mean_f1"] == 1.0
    text = "\n".join(r.warnings)
    assert "f: factoid/list exact_answer must be a list of lists" in text
    assert "y: yes/no exact_answer must be a string" in text
    assert "stranger: not in the gold file" in text
    assert "l: ideal_answer must be a string" in text


def test_empty_type_groups_score_zero():
    r = score_phase_b([], {})
    assert set(r.scores.values()) == {0.0}


# The three inputs where the official EvaluatorTask1b -phaseB (BioASQ/Evaluation-Measures, gson reader
# in Task1bData) once differed from ours; there the evaluator is the definition.


def test_empty_inner_list_is_dropped_like_the_official_parser():
    # readExactAnswerListOfArraysv3 adds an answer only inside the inner list's loop: [] adds nothing,
    # so it takes no factoid rank and is no list false positive.
    g = [gold("f", "factoid", [["p53"]]), gold("l", "list", [["brca1"], ["brca2"]])]
    r = score_phase_b(g, submission(sub("f", [[], ["p53"]]), sub("l", [[], ["BRCA1"], [], ["BRCA2"]])))
    assert r.scores["factoid_strict_accuracy"] == 1.0 and r.scores["factoid_mrr"] == 1.0
    assert (r.scores["list_mean_precision"], r.scores["list_mean_recall"]) == (1.0, 1.0)
    only_empty = score_phase_b(g, submission(sub("f", [[]]), sub("l", [[], []])))
    assert set(only_empty.scores.values()) == {0.0} and only_empty.warnings == []


def test_a_number_answer_is_read_as_its_text(tmp_path):
    # gson's nextString returns a number's literal text: [[5]] is the answer "5", [[1.50]] is "1.50".
    g = [gold("f", "factoid", [["5"]]), gold("l", "list", [["1.50"], ["2"], ["1e3"]])]
    r = score_phase_b(g, submission(sub("f", [[5]]), sub("l", [[2]])))
    assert r.scores["factoid_strict_accuracy"] == 1.0 and r.warnings == []
    assert r.scores["list_mean_precision"] == 1.0
    gold_file, sub_file = tmp_path / "gold.json", tmp_path / "sub.json"
    raw = [
        {"id": "f", "body": "How many?", "type": "factoid", "exact_answer": [["5"]]},
        {"id": "l", "body": "Which?", "type": "list", "exact_answer": [["1.50"], ["2"], ["1e3"]]},
    ]
    gold_file.write_text(json.dumps({"questions": raw}))
    # written by hand: json.dumps would turn 1.50 into 1.5 and 1E3 into 1000.0
    sub_file.write_text('{"questions": [{"id": "f", "exact_answer": [[5]]},'
                        ' {"id": "l", "exact_answer": [[1.50], [2], [1E3], [true]]}]}')
    result = score_files(gold_file, sub_file)
    assert result.scores["factoid_mrr"] == 1.0
    assert result.scores["list_mean_precision"] == 0.0  # [true] is no answer string: scored 0, with a warning
    assert any("answer entries must be strings" in w for w in result.warnings)
    sub_file.write_text('{"questions": [{"id": "f", "exact_answer": [[5]]},'
                        ' {"id": "l", "exact_answer": [[1.50], [2], [1E3]]}]}')
    assert score_files(gold_file, sub_file).scores["list_mean_f1"] == 1.0


def test_whitespace_only_gold_synonyms_are_kept():
    # readExactAnswerListOfArraysv2 keeps every gold string: an entity whose only synonym is " " is
    # still a gold entity (a false negative unless " " is submitted), and " " matches a submitted " ".
    raw = [
        {"id": "l", "body": "Which?", "type": "list", "exact_answer": [["a"], [" "], []]},
        {"id": "f", "body": "What?", "type": "factoid", "exact_answer": [["  ", "x"]]},
    ]
    questions, report = parse_questions({"questions": raw}, "mem", require_answers=True)
    assert report.ok and [q.exact_answer for q in questions] == [[["a"], [" "]], [["  ", "x"]]]
    r = score_phase_b(questions, submission(sub("l", [["a"]]), sub("f", [["  "]])))
    assert r.scores["list_mean_recall"] == 0.5 and r.scores["list_mean_precision"] == 1.0
    assert r.scores["factoid_strict_accuracy"] == 1.0
    r = score_phase_b(questions, submission(sub("l", [["a"], [" "]]), sub("f", [["x"]])))
    assert r.scores["list_mean_f1"] == 1.0 and r.scores["factoid_strict_accuracy"] == 1.0
