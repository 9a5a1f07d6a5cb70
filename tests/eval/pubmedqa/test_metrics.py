"""PubMedQA accuracy and macro-F1 (scikit-learn's macro rule), by hand."""

from __future__ import annotations

import pytest

from biomamba.eval.pubmedqa.metrics import accuracy, macro_f1, score_pubmedqa


def test_by_hand():
    truth = ["yes", "yes", "no", "maybe"]
    preds = ["yes", "no", "no", "yes"]
    assert accuracy(truth, preds) == 0.5
    # yes: TP1 FP1 FN1 -> 2/4; no: TP1 FP1 FN0 -> 2/3; maybe: TP0 -> 0
    assert macro_f1(truth, preds) == pytest.approx((0.5 + 2 / 3 + 0) / 3)


def test_invalid_prediction_is_a_class_of_its_own():
    # like sklearn: labels = union of truth and predictions
    assert macro_f1(["yes", "no"], ["yes", "unknown"]) == pytest.approx((1 + 0 + 0) / 3)


def test_predictions_must_cover_the_gold_pmids():
    with pytest.raises(ValueError, match="1 missing"):
        score_pubmedqa({"1": "yes"}, {"1": "yes", "2": "no"})
    assert score_pubmedqa({"1": "yes", "2": "yes"}, {"1": "yes", "2": "no"})["accuracy"] == 0.5
