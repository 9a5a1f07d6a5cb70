"""How each kind of answer is written as text, for training targets and for reading generations.

One place defines both directions so fine-tuning and inference agree:

* yes/no: ``yes`` | ``no``; PubMedQA adds ``maybe``.
* factoid: one entity name (the gold entity's first synonym).
* list: entity names joined by ``"; "``; generated text is split on ``;``
  and line breaks, cleaned and deduplicated.
* ideal answer (any type, the only answer of a summary question): prose.
"""

from __future__ import annotations

import re

from biomamba.eval.bioasq.data import Question
from biomamba.eval.prompting import Prompt, TokenizerLike, build_prompt
from biomamba.eval.pubmedqa.data import PubMedQAItem

LIST_SEPARATOR = "; "
INSTRUCTIONS = {
    "yesno": "Answer yes or no.",
    "factoid": "Answer with the name of one entity.",
    "list": "Answer with a list of entities separated by semicolons.",
    "ideal": "Answer in one to three sentences.",
    "pubmedqa": "Answer yes, no or maybe.",
}
_EDGE_PUNCT = " \t\"'`.,:;!?()[]{}"


def instruction_for(qtype: str, kind: str = "exact") -> str:
    """``kind`` is "exact" (yesno/factoid/list) or "ideal" (any type)."""
    if kind == "ideal" or qtype == "summary":
        return INSTRUCTIONS["ideal"]
    if kind != "exact" or qtype not in INSTRUCTIONS:
        raise ValueError(f"no instruction for question type {qtype!r} and answer kind {kind!r}")
    return INSTRUCTIONS[qtype]


def exact_target(question: Question) -> str | None:
    """Training target for the exact answer (None for summaries or unanswered questions)."""
    if question.exact_answer is None or question.type == "summary":
        return None
    if question.type == "yesno":
        return question.exact_answer
    # Gold keeps whitespace-only synonyms (the official scorer does); a target names each
    # entity by its first synonym with text, and skips an entity that has none.
    names = [next(s for s in entity if s.strip()) for entity in question.exact_answer if any(map(str.strip, entity))]
    if not names:
        return None
    return names[0] if question.type == "factoid" else LIST_SEPARATOR.join(names)


def ideal_target(question: Question) -> str | None:
    return question.ideal_answers[0] if question.ideal_answers else None


def clean_item(text: str) -> str:
    """Collapse whitespace and strip surrounding punctuation/quotes of one answer item."""
    return " ".join(text.split()).strip(_EDGE_PUNCT)


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip() if text.strip() else ""


def split_list_items(generated: str, max_items: int = 100) -> list[str]:
    """Generated list answer -> cleaned, deduplicated (case-insensitively) items, in order."""
    seen, items = set(), []
    for part in re.split(r"[;\n]", generated):
        item = clean_item(part)
        if item and item.lower() not in seen:
            seen.add(item.lower())
            items.append(item)
    return items[:max_items]


def bioasq_prompt(
    tokenizer: TokenizerLike, question: Question, kind: str, max_tokens: int, repeat_question: bool = True
) -> Prompt:
    return build_prompt(
        tokenizer,
        question.body,
        [s.text for s in question.snippets],
        instruction_for(question.type, kind),
        max_tokens,
        repeat_question=repeat_question,
    )


def pubmedqa_prompt(
    tokenizer: TokenizerLike, item: PubMedQAItem, max_tokens: int, repeat_question: bool = True
) -> Prompt:
    # The abstract's order matters more than overlap ranking: keep it as written.
    return build_prompt(
        tokenizer,
        item.question,
        item.contexts,
        INSTRUCTIONS["pubmedqa"],
        max_tokens,
        rank=False,
        repeat_question=repeat_question,
    )
