"""Answer text formats: targets for training and parsing of generated answers."""

from __future__ import annotations

from biomamba.eval.bioasq.data import Question
from biomamba.eval.qa_formats import exact_target, ideal_target, instruction_for, split_list_items


def test_targets():
    assert exact_target(Question("a", "b", "yesno", exact_answer="no")) == "no"
    assert exact_target(Question("a", "b", "factoid", exact_answer=[["p53", "TP53"]])) == "p53"
    assert exact_target(Question("a", "b", "list", exact_answer=[["IgG", "immunoglobulin G"], ["IgA"]])) == "IgG; IgA"
    assert exact_target(Question("a", "b", "summary", ideal_answers=["x"])) is None
    # gold keeps whitespace-only synonyms for scoring; a training target skips them
    assert exact_target(Question("a", "b", "list", exact_answer=[[" ", "IgG"], ["  "], ["IgA"]])) == "IgG; IgA"
    assert exact_target(Question("a", "b", "factoid", exact_answer=[[" "]])) is None
    assert ideal_target(Question("a", "b", "summary", ideal_answers=["first", "second"])) == "first"
    assert instruction_for("summary") == instruction_for("list", "ideal")


def test_split_list_items_cleans_and_dedups():
    text = ' adenine;  Guanine ;"adenine".\nthymine,; ;cytosine  and more '
    assert split_list_items(text) == ["adenine", "Guanine", "thymine", "cytosine  and more".replace("  ", " ")]
    assert split_list_items("a;b;c", max_items=2) == ["a", "b"]
    assert split_list_items("") == []
