"""Prompts for question answering and answer-only training examples.

A prompt is built from token-id pieces encoded separately (so its length is
known exactly and the same pieces are produced at training and at test time)::

    <eos>Question: {question}\n
    {instruction}\n
    Context:\n
    {passage 1}\n
    {passage 2}\n                 <- ranked; filled to the budget, the last one cut
    Question: {question}\n         <- only with ``repeat_question`` (see below)
    Answer:

The leading EOS marks a document start the way pretraining does (documents
are concatenated with one EOS between them, no BOS).  The question, the
instruction and ``Answer:`` are never cut: when they alone exceed the budget a
:class:`PromptTooLong` error says so.  Question and instruction come before
the context, so a recurrent model knows what to keep while reading;
``repeat_question`` also restates the question right before the answer ("just
read twice" prompting helps state-space models, Arora et al. 2024) at the
price of putting the context further from the answer -- which matters for
tiny models fine-tuned from scratch, that learn short-range dependencies far
faster than long ones.

Training examples append the answer's tokens and EOS and follow the loader
contract (CONTRACTS.md): ``labels`` are next-token targets, ``-100`` wherever
the target is a prompt token, so only the answer (and its closing EOS) is
learned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

IGNORE_INDEX = -100
_WORD = re.compile(r"[a-z0-9]+")
# Words too common to say anything about relevance.
_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how in is it its of on or that the this to was "
    "were what when which who why with".split()
)


class TokenizerLike(Protocol):
    eos_id: int
    pad_id: int | None

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class PromptTooLong(ValueError):
    """The parts of a prompt that are never cut do not fit the token budget."""


@dataclass
class Prompt:
    ids: list[int]
    passages_used: int  # passages included, fully or cut
    passages_total: int
    truncated: bool  # a passage was cut or left out


@dataclass
class TrainingExample:
    input_ids: list[int]
    labels: list[int]  # next-token targets; IGNORE_INDEX except for answer tokens and the closing EOS
    answer_bytes: int  # UTF-8 bytes of the answer text (for bits per byte)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def unique_passages(passages: list[str]) -> list[str]:
    """Whitespace-normalized passages without empty or repeated ones (BioASQ repeats snippets)."""
    seen, unique = set(), []
    for p in passages:
        key = " ".join(p.split())
        if key and key not in seen:
            seen.add(key)
            unique.append(key)
    return unique


def rank_passages(question: str, passages: list[str]) -> list[str]:
    """Unique passages ordered by the number of content words shared with the question.

    Ties keep the original order (BioASQ lists snippets by relevance already),
    so with no overlap signal the given order is preserved.
    """
    q_words = _content_words(question)
    return sorted(unique_passages(passages), key=lambda p: -len(q_words & _content_words(p)))


def build_prompt(
    tokenizer: TokenizerLike,
    question: str,
    passages: list[str],
    instruction: str,
    max_tokens: int,
    *,
    rank: bool = True,
    repeat_question: bool = True,
    min_cut_tokens: int = 8,
) -> Prompt:
    """Token ids of a prompt of at most ``max_tokens``; see the module docstring for the layout."""
    question = " ".join(question.split())
    head = [tokenizer.eos_id] + tokenizer.encode(f"Question: {question}\n") + tokenizer.encode(f"{instruction}\n")
    head = head + tokenizer.encode("Context:\n")
    tail = tokenizer.encode(f"Question: {question}\n") if repeat_question else []
    tail = tail + tokenizer.encode("Answer:")
    budget = max_tokens - len(head) - len(tail)
    if budget < 0:
        raise PromptTooLong(
            f"the question and instruction need {len(head) + len(tail)} tokens but the prompt budget is "
            f"{max_tokens}; raise the prompt budget (question starts {question[:60]!r})"
        )
    ordered = rank_passages(question, passages) if rank else unique_passages(passages)
    body: list[int] = []
    used = 0
    truncated = False
    for passage in ordered:
        ids = tokenizer.encode(passage + "\n")
        room = budget - len(body)
        if len(ids) <= room:
            body += ids
            used += 1
            continue
        truncated = True
        if room >= min_cut_tokens:
            body += ids[:room]
            used += 1
        break
    return Prompt(head + body + tail, used, len(ordered), truncated or used < len(ordered))


def build_training_example(
    tokenizer: TokenizerLike,
    question: str,
    passages: list[str],
    instruction: str,
    answer: str,
    max_length: int,
    *,
    max_answer_tokens: int = 256,
    repeat_question: bool = True,
) -> TrainingExample:
    """Prompt + answer as one sequence of at most ``max_length`` inputs, loss on the answer only.

    The answer is cut to ``max_answer_tokens`` (then no EOS follows it: a cut
    answer must not teach the model to stop there); the prompt gets the rest
    of the budget.
    """
    answer_ids = tokenizer.encode(" " + answer.strip())
    if not answer_ids:
        raise ValueError(f"the answer {answer!r} encodes to no tokens")
    if len(answer_ids) > max_answer_tokens:
        target = answer_ids[:max_answer_tokens]
    else:
        target = answer_ids + [tokenizer.eos_id]
    prompt = build_prompt(
        tokenizer, question, passages, instruction, max_length + 1 - len(target), repeat_question=repeat_question
    )
    sequence = prompt.ids + target
    labels = [IGNORE_INDEX] * (len(prompt.ids) - 1) + target
    return TrainingExample(sequence[:-1], labels, len(answer.strip().encode("utf-8")))
