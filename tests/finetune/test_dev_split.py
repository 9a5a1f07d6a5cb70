"""The dev split: deterministic by a hash of the question id, disjoint from training, never leaking repeats."""

from __future__ import annotations

import dataclasses

from biomamba.finetune.build import examples_for, split_questions
from biomamba.finetune.dev_split import carve_dev, dev_hash


def test_carving_is_deterministic_disjoint_and_stable(training_questions):
    a = carve_dev(training_questions, 0.1, "salt")
    b = carve_dev(list(training_questions), 0.1, "salt")
    assert [q.id for q in a.dev] == [q.id for q in b.dev] and [q.id for q in a.train] == [q.id for q in b.train]
    train_ids, dev_ids = {q.id for q in a.train}, {q.id for q in a.dev}
    assert not train_ids & dev_ids
    assert len(train_ids) + len(dev_ids) + len(a.duplicates_dropped) == len(training_questions)
    assert all(dev_hash(i, "salt") < 0.1 for i in dev_ids)
    assert 10 <= len(dev_ids) <= 40  # ~24 of 240
    # a question keeps its side when the file grows or is reordered
    grown = carve_dev(training_questions[::-1][:150], 0.1, "salt")
    assert {q.id for q in grown.dev} == dev_ids & {q.id for q in training_questions[::-1][:150]}
    # another salt, another split
    assert {q.id for q in carve_dev(training_questions, 0.1, "other").dev} != dev_ids


def test_repeats_of_dev_questions_and_excluded_questions_never_train(training_questions):
    split = carve_dev(training_questions, 0.1, "salt")
    dev_bodies = {q.body.lower() for q in split.dev}
    assert split.duplicates_dropped  # the fixture repeats question texts with other ids
    assert not any(q.body.lower() in dev_bodies for q in split.train)
    test_batch = [dataclasses.replace(training_questions[0], id="test-1"), training_questions[1]]
    excluded = carve_dev(training_questions, 0.1, "salt", exclude=test_batch)
    banned = {training_questions[0].body, training_questions[1].body}
    assert training_questions[1].id in excluded.excluded
    assert not any(q.body in banned for q in excluded.train + excluded.dev)


def test_config_carving_excludes_dev_from_training_examples(tiny_config, tokenizer):
    cfg = tiny_config()
    split = split_questions(cfg)
    again = split_questions(tiny_config())
    assert [q.id for q in split.dev] == [q.id for q in again.dev]
    train_examples = examples_for(cfg, split.train, tokenizer, "train")
    dev_prompts = {tuple(e.input_ids) for e in examples_for(cfg, split.dev, tokenizer, "dev")}
    assert len(train_examples) == len(split.train)  # one exact-answer example per yes/no question
    assert not dev_prompts & {tuple(e.input_ids) for e in train_examples}
    capped = split_questions(tiny_config("finetune.dev_max_questions=5"))
    assert [q.id for q in capped.dev] == [q.id for q in split.dev[:5]]
