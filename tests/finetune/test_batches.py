"""The fine-tuning data source: DP-sharded, answer-masked, deterministic, exactly resumable."""

from __future__ import annotations

import io

import pytest
import torch

from biomamba.eval.finetune_examples import build_bioasq_examples
from biomamba.eval.prompting import IGNORE_INDEX
from biomamba.finetune.batches import ExampleBatches


@pytest.fixture(scope="module")
def examples(training_questions, tokenizer):
    out, report = build_bioasq_examples(training_questions[:50], tokenizer, 96)  # exact + ideal: 100 examples
    assert report.ok and len(out) == 100
    return out


def take(source, n):
    it = iter(source)
    return [next(it) for _ in range(n)]


def make(examples, rank=0, size=1, **kw):
    return ExampleBatches(examples, kw.pop("micro_batch", 4), rank, size, pad_id=0, seed=kw.pop("seed", 7), **kw)


def rows(batch) -> list[tuple]:
    return [tuple(r) for r in batch["input_ids"].tolist()]


def test_ranks_get_disjoint_equal_shares_of_each_epoch(examples):
    r0, r1 = make(examples, 0, 2), make(examples, 1, 2)
    per_epoch = r0.batches_per_epoch
    assert per_epoch == 100 // 8 == r1.batches_per_epoch
    b0, b1 = take(r0, per_epoch), take(r1, per_epoch)
    seen0 = [r for b in b0 for r in rows(b)]
    seen1 = [r for b in b1 for r in rows(b)]
    assert len(seen0) == len(seen1) == 48
    assert not set(seen0) & set(seen1) and len(set(seen0 + seen1)) == 96  # 4 examples left for another epoch
    assert r0.epoch == 1 and r0.batch == 0
    # the next epoch is another order
    assert rows(take(make(examples, 0, 2), per_epoch + 1)[-1]) != rows(b0[0])


def test_padding_and_prompts_are_never_scored(examples):
    batch = take(make(examples, micro_batch=6), 1)[0]
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        scored = labels != IGNORE_INDEX
        n = int(scored.sum())
        assert n >= 2  # answer tokens + EOS
        # the scored targets are one contiguous block at the end of the real tokens (the answer + EOS)
        last = int(scored.nonzero().max())
        assert scored[last - n + 1 : last + 1].all()
        assert (ids[last + 1 :] == 0).all() and (labels[last + 1 :] == IGNORE_INDEX).all()


def test_resume_is_exact_anywhere_even_across_epochs(examples):
    full = make(examples, 1, 2)
    reference = take(full, 40)  # > 3 epochs of 12
    for cut in (1, 11, 12, 13, 25):
        first = make(examples, 1, 2)
        take(first, cut)
        buf = io.BytesIO()
        torch.save(first.state_dict(), buf)  # as the checkpoint stores it
        buf.seek(0)
        resumed = make(examples, 1, 2)
        resumed.load_state_dict(torch.load(buf, weights_only=True))
        for a, b in zip(take(resumed, 40 - cut), reference[cut:]):
            assert all(torch.equal(a[k], b[k]) for k in ("input_ids", "labels", "bytes")), cut


def test_other_data_is_refused_unless_allowed(examples):
    state = make(examples, 0, 2)
    take(state, 15)
    saved = state.state_dict()
    with pytest.raises(ValueError, match="changed since this checkpoint"):
        make(examples[:-1], 0, 2).load_state_dict(saved)
    with pytest.raises(ValueError, match="changed since this checkpoint"):
        make(examples, 0, 2, seed=8).load_state_dict(saved)
    relaxed = make(examples, 0, 1)  # e.g. the data-parallel size changed: the current epoch restarts
    relaxed.load_state_dict(saved, allow_mismatch=True)
    assert (relaxed.epoch, relaxed.batch) == (1, 0)


def test_epochs_bound_the_data_and_tiny_sets_are_refused(examples):
    assert len(list(make(examples, 0, 2, epochs=2))) == 2 * 12
    with pytest.raises(ValueError, match="global batch"):
        make(examples[:7], 0, 2)
    unshuffled = take(make(examples, micro_batch=4, shuffle=False), 1)[0]
    assert rows(unshuffled) == [tuple(e.input_ids) + (0,) * (unshuffled["input_ids"].shape[1] - len(e.input_ids))
                                for e in examples[:4]]
