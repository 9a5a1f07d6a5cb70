"""BioASQ questions -> answer-only training examples and batches for fine-tuning.

Each question gives up to two examples: its exact answer (yesno, factoid,
list) and its ideal answer (every type), each with the instruction that asks
for it (:mod:`biomamba.eval.qa_formats`), so the model learns both formats
that :mod:`biomamba.eval.answering` later prompts for.  Batches follow the
loader contract (CONTRACTS.md): ``input_ids`` and ``labels`` (next-token
targets, -100 on prompt and padding) of shape [B, L] and ``bytes`` [B], so the
training engine's step and bits-per-byte accounting apply unchanged.
"""

from __future__ import annotations

import torch

from biomamba.eval.bioasq.data import Question
from biomamba.eval.load_report import LoadReport
from biomamba.eval.prompting import IGNORE_INDEX, PromptTooLong, TokenizerLike, TrainingExample, build_training_example
from biomamba.eval.qa_formats import exact_target, ideal_target, instruction_for

ANSWER_KINDS = ("exact", "ideal")


def build_bioasq_examples(
    questions: list[Question],
    tokenizer: TokenizerLike,
    max_length: int,
    kinds: tuple[str, ...] = ANSWER_KINDS,
    max_answer_tokens: int = 256,
    repeat_question: bool = True,
) -> tuple[list[TrainingExample], LoadReport]:
    """One example per (question, answer kind) that has a target; unfit questions are reported."""
    unknown = set(kinds) - set(ANSWER_KINDS)
    if unknown:
        raise ValueError(f"answer kinds {sorted(unknown)} unknown; use {list(ANSWER_KINDS)}")
    report = LoadReport("bioasq fine-tuning examples")
    examples = []
    for q in questions:
        for kind in kinds:
            target = exact_target(q) if kind == "exact" else ideal_target(q)
            if target is None:
                continue
            report.seen += 1
            try:
                examples.append(
                    build_training_example(
                        tokenizer,
                        q.body,
                        [s.text for s in q.snippets],
                        instruction_for(q.type, kind),
                        target,
                        max_length,
                        max_answer_tokens=max_answer_tokens,
                        repeat_question=repeat_question,
                    )
                )
                report.loaded += 1
            except (PromptTooLong, ValueError) as exc:
                report.skip(f"{q.id}/{kind}", str(exc))
    return examples, report


def collate_examples(examples: list[TrainingExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example: pad id in ``input_ids``, -100 in ``labels``.

    ``lengths`` holds each row's real (unpadded) length: the input tokens the model
    processes, which the training loop's tokens/s and MFU count.
    """
    if not examples:
        raise ValueError("cannot collate an empty list of examples")
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    for row, e in enumerate(examples):
        input_ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
    return {
        "input_ids": input_ids,
        "labels": labels,
        "bytes": torch.tensor([e.answer_bytes for e in examples], dtype=torch.long),
        "lengths": torch.tensor([len(e.input_ids) for e in examples], dtype=torch.long),
    }
