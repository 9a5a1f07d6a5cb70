"""The real PubMedQA test set (500 questions) from the shared samples."""

from __future__ import annotations

import pytest

from biomamba.eval.pubmedqa.data import load_ground_truth, load_pubmedqa
from biomamba.eval.pubmedqa.metrics import score_pubmedqa
from biomamba.eval.qa_formats import pubmedqa_prompt


@pytest.fixture(scope="module")
def testset(samples_dir):
    folder = samples_dir / "pubmedqa"
    items, report = load_pubmedqa(folder / "ori_pqal_test500_subset.json")
    return items, report, load_ground_truth(folder / "test_ground_truth.json")


def test_all_500_parse(testset):
    items, report, truth = testset
    assert report.ok and report.loaded == 500 and len(items) == 500
    assert {i.pmid for i in items} == set(truth)
    assert all(i.final_decision == truth[i.pmid] for i in items)


def test_ground_truth_against_itself_is_perfect(testset):
    _, _, truth = testset
    assert score_pubmedqa(dict(truth), truth) == {"accuracy": 1.0, "macro_f1": 1.0, "n": 500}


def test_constant_yes_baseline(testset):
    _, _, truth = testset
    scores = score_pubmedqa({p: "yes" for p in truth}, truth)
    assert scores["accuracy"] == 276 / 500
    # F1(yes) = 2*276 / (2*276 + 224 false yes); no and maybe: 0
    assert scores["macro_f1"] == pytest.approx((552 / 776) / 3)


def test_every_question_fits_a_prompt(testset, tokenizer):
    items, _, _ = testset
    for item in items:
        prompt = pubmedqa_prompt(tokenizer, item, max_tokens=512)
        assert len(prompt.ids) <= 512 and prompt.passages_used >= 1
