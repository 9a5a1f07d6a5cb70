"""Fine-tuning examples from BioASQ questions and their batches (loader contract)."""

from __future__ import annotations

import pytest

from biomamba.eval.bioasq.data import load_bioasq
from biomamba.eval.finetune_examples import build_bioasq_examples, collate_examples
from biomamba.eval.prompting import IGNORE_INDEX
from biomamba.train.metrics import input_tokens


@pytest.fixture(scope="module")
def sample(repo_root):
    questions, _ = load_bioasq(repo_root / "biomamba/resources/sample/bioasq_sample.json", require_answers=True)
    return questions


def test_one_example_per_answer_kind(sample, tokenizer):
    exact, r1 = build_bioasq_examples(sample, tokenizer, 256, kinds=("exact",))
    both, r2 = build_bioasq_examples(sample, tokenizer, 256)
    assert r1.ok and r2.ok
    assert len(exact) == 32  # every question but the 7 summaries
    assert len(both) == 32 + 39  # plus one ideal answer each
    with pytest.raises(ValueError, match="unknown"):
        build_bioasq_examples(sample, tokenizer, 256, kinds=("exact", "rationale"))


def test_questions_that_cannot_fit_are_reported(sample, tokenizer):
    examples, report = build_bioasq_examples(sample[:3], tokenizer, 12, kinds=("exact",))
    assert examples == [] and report.seen == 3 and len(report.skipped) == 3
    assert report.skipped[0].key == "sample001/exact" and "prompt budget" in report.skipped[0].reason


def test_collate_pads_inputs_and_ignores_padding(sample, tokenizer):
    examples, _ = build_bioasq_examples(sample[:4], tokenizer, 256, kinds=("exact",))
    batch = collate_examples(examples, pad_id=0)
    width = max(len(e.input_ids) for e in examples)
    assert batch["input_ids"].shape == batch["labels"].shape == (4, width)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        assert batch["input_ids"][row, :n].tolist() == e.input_ids and set(batch["input_ids"][row, n:].tolist()) <= {0}
        assert batch["labels"][row, :n].tolist() == e.labels
        assert (batch["labels"][row, n:] == IGNORE_INDEX).all()
    assert batch["bytes"].tolist() == [e.answer_bytes for e in examples] == [3, 2, 3, 2]  # yes/no/yes/no
    with pytest.raises(ValueError, match="empty"):
        collate_examples([], 0)


def test_throughput_counts_the_prompt_tokens_not_the_padding(sample, tokenizer):
    # Fine-tuning scores only the answer; the model still processes the prompt, so tokens/s and MFU
    # count every real input token (padding excluded), and the scored count is a separate number.
    examples, _ = build_bioasq_examples(sample[:4], tokenizer, 256, kinds=("exact",))
    batch = collate_examples(examples, pad_id=0)
    assert batch["lengths"].tolist() == [len(e.input_ids) for e in examples]
    processed, scored = input_tokens(batch), int((batch["labels"] != IGNORE_INDEX).sum())
    assert processed == sum(len(e.input_ids) for e in examples) < batch["input_ids"].numel()
    assert scored == sum(sum(x != IGNORE_INDEX for x in e.labels) for e in examples) and processed > 3 * scored
    packed = {"input_ids": batch["input_ids"], "labels": batch["labels"]}  # packed windows: no padding
    assert input_tokens(packed) == batch["input_ids"].numel()
