"""PubMedQA scores: accuracy and macro-F1 over the labels, as the official ``evaluation.py``.

The official script uses scikit-learn's ``f1_score(average="macro")``: the
classes are the union of gold and predicted labels (so an invalid prediction
such as "unknown" becomes a class of its own with F1 0), F1 of a class is
2TP/(2TP+FP+FN), 0 when it has no true positive.  Predictions must cover
exactly the gold PMIDs.
"""

from __future__ import annotations


def accuracy(truth: list[str], predictions: list[str]) -> float:
    if len(truth) != len(predictions) or not truth:
        raise ValueError("truth and predictions must be non-empty and of the same length")
    return sum(t == p for t, p in zip(truth, predictions)) / len(truth)


def macro_f1(truth: list[str], predictions: list[str]) -> float:
    if len(truth) != len(predictions) or not truth:
        raise ValueError("truth and predictions must be non-empty and of the same length")
    f1s = []
    for label in sorted(set(truth) | set(predictions)):
        tp = sum(t == label and p == label for t, p in zip(truth, predictions))
        fp = sum(t != label and p == label for t, p in zip(truth, predictions))
        fn = sum(t == label and p != label for t, p in zip(truth, predictions))
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def score_pubmedqa(predictions: dict[str, str], ground_truth: dict[str, str]) -> dict:
    """{PMID: predicted label} vs {PMID: gold label} -> accuracy, macro-F1 and counts."""
    if set(predictions) != set(ground_truth):
        missing = sorted(set(ground_truth) - set(predictions))
        extra = sorted(set(predictions) - set(ground_truth))
        raise ValueError(
            f"predictions must cover exactly the gold PMIDs: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(extra)} unknown (e.g. {extra[:3]})"
        )
    pmids = list(ground_truth)
    truth = [ground_truth[p] for p in pmids]
    preds = [predictions[p] for p in pmids]
    return {"accuracy": accuracy(truth, preds), "macro_f1": macro_f1(truth, preds), "n": len(pmids)}
