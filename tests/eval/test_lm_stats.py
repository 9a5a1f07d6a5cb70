"""The one LM-metrics accumulator: training validation, the fine-tuning dev loss and lm_metrics agree."""

from __future__ import annotations

import math

import pytest
import torch

from biomamba.eval.lm_stats import MAX_LOG_PERPLEXITY, LMStats
from biomamba.eval.prompting import IGNORE_INDEX
from biomamba.parallel import ParallelDims
from biomamba.train.evaluation import evaluate
from biomamba.train.loss import token_nll


def test_accumulates_batches_and_names_the_metrics():
    stats = LMStats()
    nll = torch.tensor([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    stats.add_batch(nll, mask, torch.tensor([4, 8]))
    stats.add(2.0, 1, 4)
    assert (stats.nll_sum, stats.tokens, stats.bytes) == (8.0, 4, 16)
    assert stats.short("val") == {"val_loss": 2.0, "val_ppl": pytest.approx(math.exp(2.0)),
                                  "val_bpb": pytest.approx(8.0 / (math.log(2) * 16))}
    assert stats.to_dict()["cross_entropy"] == 2.0 and stats.to_dict()["tokens"] == 4


def test_reduction_hook_sums_ranks_and_empty_is_nan():
    two_ranks = LMStats(tokens=3, bytes=10, nll_sum=1.5).reduced(lambda t: t * 2)
    assert (two_ranks.tokens, two_ranks.bytes, two_ranks.nll_sum) == (6, 20, 3.0)
    assert isinstance(two_ranks.tokens, int) and LMStats(1, 2, 0.5).reduced(None) == LMStats(1, 2, 0.5)
    empty = LMStats()
    assert math.isnan(empty.cross_entropy) and math.isnan(empty.bits_per_byte)
    assert LMStats(tokens=1, bytes=1, nll_sum=1e4).perplexity == math.exp(MAX_LOG_PERPLEXITY)


class _Fixed(torch.nn.Module):
    """Logits that depend only on the input token (a bigram table)."""

    def __init__(self, vocab: int):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0)))

    def forward(self, ids):
        return self.table[ids]


def test_training_validation_matches_the_accumulator():
    model = _Fixed(7)
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 1, 0]])
    labels = torch.tensor([[2, 3, 4, 5], [6, 1, IGNORE_INDEX, IGNORE_INDEX]])
    batch = {"input_ids": ids, "labels": labels, "bytes": torch.tensor([11, 5])}
    got = evaluate(model, [batch, batch], ParallelDims())
    expected = LMStats()
    for _ in range(2):
        expected.add_batch(*token_nll(model(ids), labels), batch["bytes"])
    assert got == {**expected.short("val"), "val_tokens": 12, "val_bytes": 32}
    manual = torch.nn.functional.cross_entropy(model(ids).reshape(-1, 7), labels.reshape(-1), reduction="sum")
    assert got["val_loss"] == pytest.approx(2 * manual.item() / 12, rel=1e-6)
    assert evaluate(model, [], ParallelDims()) == {"val_tokens": 0}
