"""Prompt budget, question never cut, snippet ranking, answer-only loss masking."""

from __future__ import annotations

import pytest

from biomamba.eval.prompting import (
    IGNORE_INDEX,
    PromptTooLong,
    build_prompt,
    build_training_example,
    rank_passages,
)

QUESTION = "Which enzyme is inhibited by statins?"
INSTRUCTION = "Answer with the name of one entity."
PASSAGES = [
    "Bile is produced by hepatocytes in the liver and stored in the gallbladder. " * 3,
    "Statins competitively inhibit HMG-CoA reductase, the rate-limiting enzyme of cholesterol synthesis.",
    "Statins competitively inhibit HMG-CoA reductase, the rate-limiting enzyme of cholesterol synthesis.",
    "   ",
]


def fixed_parts(tokenizer, question=QUESTION, instruction=INSTRUCTION):
    head = [tokenizer.eos_id] + tokenizer.encode(f"Question: {question}\n") + tokenizer.encode(f"{instruction}\n")
    head += tokenizer.encode("Context:\n")
    tail = tokenizer.encode(f"Question: {question}\n") + tokenizer.encode("Answer:")
    return head, tail


def test_ranking_dedups_and_prefers_overlap():
    ranked = rank_passages(QUESTION, PASSAGES)
    assert len(ranked) == 2 and ranked[0].startswith("Statins")
    assert rank_passages("zzz", ["b  text", "a text"]) == ["b text", "a text"]  # no signal: order kept


@pytest.mark.parametrize("budget", [60, 80, 120, 400])
def test_truncation_never_cuts_the_question(tokenizer, budget):
    head, tail = fixed_parts(tokenizer)
    prompt = build_prompt(tokenizer, QUESTION, PASSAGES, INSTRUCTION, budget)
    assert len(prompt.ids) <= budget
    assert prompt.ids[: len(head)] == head and prompt.ids[-len(tail) :] == tail
    if budget == 400:
        assert not prompt.truncated and prompt.passages_used == prompt.passages_total == 2
    else:
        assert prompt.truncated


def test_cut_passage_is_a_prefix_of_its_tokens(tokenizer):
    head, tail = fixed_parts(tokenizer)
    budget = len(head) + len(tail) + 12
    prompt = build_prompt(tokenizer, QUESTION, PASSAGES, INSTRUCTION, budget)
    body = prompt.ids[len(head) : -len(tail)]
    assert len(prompt.ids) == budget and prompt.passages_used == 1
    assert body == tokenizer.encode(rank_passages(QUESTION, PASSAGES)[0] + "\n")[:12]
    # too little room to be worth cutting: the passage is left out
    small = build_prompt(tokenizer, QUESTION, PASSAGES, INSTRUCTION, len(head) + len(tail) + 5)
    assert small.passages_used == 0 and len(small.ids) == len(head) + len(tail)


def test_question_too_long_for_the_budget_is_an_error(tokenizer):
    with pytest.raises(PromptTooLong, match="raise the prompt budget"):
        build_prompt(tokenizer, QUESTION, PASSAGES, INSTRUCTION, 20)


def test_without_repeated_question(tokenizer):
    prompt = build_prompt(tokenizer, QUESTION, [], INSTRUCTION, 200, repeat_question=False)
    head, _ = fixed_parts(tokenizer)
    assert prompt.ids == head + tokenizer.encode("Answer:")


def test_answer_only_masking(tokenizer):
    ex = build_training_example(tokenizer, QUESTION, PASSAGES, INSTRUCTION, "HMG-CoA reductase", max_length=96)
    answer = tokenizer.encode(" HMG-CoA reductase") + [tokenizer.eos_id]
    assert len(ex.input_ids) == len(ex.labels) <= 96
    scored = [i for i, y in enumerate(ex.labels) if y != IGNORE_INDEX]
    assert scored == list(range(len(ex.labels) - len(answer), len(ex.labels)))
    assert ex.labels[-len(answer) :] == answer
    # labels are next-token targets: the full sequence shifted by one
    sequence = ex.input_ids + [ex.labels[-1]]
    assert all(ex.labels[i] == sequence[i + 1] for i in scored)
    assert ex.answer_bytes == len("HMG-CoA reductase")
    prompt = build_prompt(tokenizer, QUESTION, PASSAGES, INSTRUCTION, 96 + 1 - len(answer))
    assert ex.input_ids[: len(prompt.ids)] == prompt.ids


def test_cut_answer_gets_no_eos(tokenizer):
    ex = build_training_example(
        tokenizer, QUESTION, [], "Answer in one to three sentences.", "word " * 50, max_length=200, max_answer_tokens=10
    )
    labels = [y for y in ex.labels if y != IGNORE_INDEX]
    assert len(labels) == 10 and tokenizer.eos_id not in labels
