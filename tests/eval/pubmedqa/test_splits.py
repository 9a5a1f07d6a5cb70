"""PubMedQA's official split procedure."""

from __future__ import annotations

import random

import pytest

from biomamba.eval.pubmedqa.data import load_ground_truth, load_pubmedqa
from biomamba.eval.pubmedqa.splits import official_splits, stratified_split


def synthetic_labels(n_yes=552, n_no=338, n_maybe=110):
    labels = ["yes"] * n_yes + ["no"] * n_no + ["maybe"] * n_maybe
    random.Random(1).shuffle(labels)
    return {str(10_000 + i): label for i, label in enumerate(labels)}


def test_stratified_split_sizes_and_balance_fix():
    # 276 yes / 169 no / 55 maybe in chunks of 28 / 17 / 6 give nine splits of 51 and one of 41;
    # moving one PMID from each of the nine to the last evens them out at 50.
    labels = synthetic_labels(276, 169, 55)
    folds = stratified_split(labels, 10, random.Random(0))
    assert sorted(p for f in folds for p in f) == sorted(labels)
    assert [len(f) for f in folds] == [50] * 10
    maybes = [sum(labels[p] == "maybe" for p in f) for f in folds]
    assert all(m in (5, 6) for m in maybes[:9]) and sum(maybes) == 55


def test_official_splits_partition_and_stratify():
    labels = synthetic_labels()
    s = official_splits(labels)
    assert len(s.test) == 500 and sum(len(f) for f in s.folds) == 500
    assert set(s.test).isdisjoint(p for f in s.folds for p in f)
    share = sum(labels[p] == "yes" for p in s.test) / 500
    assert share == pytest.approx(552 / 1000, abs=0.01)
    train, dev = s.cv_round(3)
    assert dev == s.folds[3] and len(train) == 450 and set(train).isdisjoint(dev)
    assert official_splits(labels) == s  # deterministic
    with pytest.raises(IndexError):
        s.cv_round(10)


def test_reproduces_the_official_test_set(samples_dir):
    """Needs the full ori_pqal.json (1000 questions) beside the samples; checks PMIDs and order."""
    full = samples_dir / "pubmedqa" / "ori_pqal.json"
    if not full.is_file():
        pytest.skip(f"{full} not present (only the 500-question test subset is)")
    items, report = load_pubmedqa(full)
    assert report.ok and len(items) == 1000
    truth = load_ground_truth(samples_dir / "pubmedqa" / "test_ground_truth.json")
    assert official_splits({i.pmid: i.final_decision for i in items}).test == list(truth)
