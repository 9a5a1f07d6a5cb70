"""Per-item data behind each reported metric, for intervals, paired comparisons and baselines.

:func:`item_metrics` turns one model's evaluation result (``evaluate_model`` plus the held-out LM
sets) into ``{metric: (item ids, Metric)}`` with the report's flat metric names: BioASQ and
PubMedQA resample *questions*, the LM metrics resample *documents* (texts).  Baselines are read
against the same questions (:func:`baselines`).
"""

from __future__ import annotations

import numpy as np

from biomamba.eval.intervals import Metric, f1_columns, lm_metric, macro_f1_metric, mean_metric

YESNO = ("yes", "no")
PUBMEDQA_LABELS = ("yes", "no", "maybe")


def _yesno_metrics(gold: list[str], correct: list[bool]) -> dict[str, Metric]:
    """Accuracy and the official per-label F1 (a wrong answer counts against both labels)."""
    g, c = np.array(gold), np.array(correct, dtype=bool)
    blocks = {lab: f1_columns((g == lab) & c, (g != lab) & ~c, (g == lab) & ~c) for lab in YESNO}
    return {
        "bioasq.yesno_accuracy": mean_metric(c),
        "bioasq.yesno_f1_yes": macro_f1_metric([blocks["yes"]], present_only=False),
        "bioasq.yesno_f1_no": macro_f1_metric([blocks["no"]], present_only=False),
        "bioasq.yesno_macro_f1": macro_f1_metric([blocks["yes"], blocks["no"]], present_only=False),
    }


def _pubmedqa_metrics(truth: list[str], pred_columns: dict[str, np.ndarray], accuracy: np.ndarray) -> dict:
    """``pred_columns[label]``: per-question (expected) indicator of predicting ``label``."""
    t = np.array(truth)
    blocks = []
    for lab in sorted(set(truth) | set(pred_columns)):
        p = pred_columns.get(lab, np.zeros(len(t)))
        blocks.append(f1_columns((t == lab) * p, (t != lab) * p, (t == lab) * (1 - p)))
    return {"pubmedqa.accuracy": mean_metric(accuracy), "pubmedqa.macro_f1": macro_f1_metric(blocks, present_only=True)}


def _bioasq_items(b: dict) -> dict[str, tuple[list[str], Metric]]:
    rows = b.get("per_question", [])
    out: dict = {}
    yn = [r for r in rows if r["type"] == "yesno"]
    if yn:
        ids = [r["id"] for r in yn]
        for k, m in _yesno_metrics([b["gold_yesno"][i] for i in ids], [r.get("correct", False) for r in yn]).items():
            out[k] = (ids, m)
    groups = {"factoid": {"strict": "factoid_strict_accuracy", "lenient": "factoid_lenient_accuracy",
                          "rr": "factoid_mrr"},
              "list": {"precision": "list_mean_precision", "recall": "list_mean_recall", "f1": "list_mean_f1"}}
    for kind, keys in groups.items():
        sel = [r for r in rows if r["type"] == kind]
        for field, name in keys.items():
            if sel:  # a malformed answer has no value in its row: it scored 0
                out[f"bioasq.{name}"] = ([r["id"] for r in sel], mean_metric([r.get(field, 0.0) for r in sel]))
    ideal = [r for r in rows if "rouge2_f1" in r]
    for field in ("rouge2_recall", "rouge2_f1", "rougesu4_recall", "rougesu4_f1"):
        if ideal:
            out[f"bioasq.{field}"] = ([r["id"] for r in ideal], mean_metric([r[field] for r in ideal]))
    return out


def item_metrics(result: dict, score_names) -> dict[str, tuple[list[str], Metric]]:
    """``{metric: (item ids, Metric)}`` for the metrics in ``score_names`` (the flat report names)."""
    out: dict = {}
    if "bioasq" in result:
        out.update(_bioasq_items(result["bioasq"]))
    if "pubmedqa" in result:
        rows = result["pubmedqa"]["per_question"]
        truth, pred = [r["truth"] for r in rows], [r["prediction"] for r in rows]
        cols = {lab: np.array([p == lab for p in pred], dtype=float) for lab in set(pred)}
        acc = np.array([t == p for t, p in zip(truth, pred)], dtype=float)
        ids = [r["id"] for r in rows]
        out.update({k: (ids, m) for k, m in _pubmedqa_metrics(truth, cols, acc).items()})
    for name, stats in result.get("lm", {}).items():
        per = stats["per_text"]
        ids = [str(i) for i in range(len(per["nll"]))]
        for kind in ("cross_entropy", "perplexity", "bits_per_byte"):
            out[f"lm.{name}.{kind}"] = (ids, lm_metric(per["nll"], per["tokens"], per["bytes"], kind))
    return {k: v for k, v in out.items() if k in score_names}


def correctness(result: dict) -> dict[str, dict[str, bool]]:
    """``{metric: {item id: correct}}`` for the accuracies that get McNemar's test."""
    out = {}
    rows = result.get("bioasq", {}).get("per_question", [])
    yn = {r["id"]: bool(r.get("correct", False)) for r in rows if r["type"] == "yesno"}
    if yn:
        out["bioasq.yesno_accuracy"] = yn
    if "pubmedqa" in result:
        out["pubmedqa.accuracy"] = {r["id"]: r["truth"] == r["prediction"] for r in result["pubmedqa"]["per_question"]}
    return out


def baselines(result: dict) -> list[dict]:
    """Reference rows on the same questions: ``[{"name", "task", "metrics": {metric: Metric}}]``.

    * BioASQ yes/no: constant "yes", constant "no", and the majority class of these questions.
    * PubMedQA: constant "yes", the majority class, and uniform random over yes/no/maybe -- scored
      by its *expected* counts (accuracy 1/3 per question; per-label TP/FP/FN at 1/3 of a
      prediction), so the row is exact rather than one random draw.
    The majority class is read from the evaluated questions' own gold labels (an upper reference
    for a label-prior-only model, not a model anyone could have trained).
    """
    rows = []
    b = result.get("bioasq", {})
    yn = [r for r in b.get("per_question", []) if r["type"] == "yesno"]
    if yn:
        gold = [b["gold_yesno"][r["id"]] for r in yn]
        major = max(YESNO, key=lambda lab: (gold.count(lab), lab == "yes"))
        for name, label in (('constant "yes"', "yes"), ('constant "no"', "no"), (f'majority ("{major}")', major)):
            rows.append({"name": name, "task": "bioasq",
                         "metrics": _yesno_metrics(gold, [g == label for g in gold])})
    if "pubmedqa" in result:
        truth = [r["truth"] for r in result["pubmedqa"]["per_question"]]
        n = len(truth)
        major = max(PUBMEDQA_LABELS, key=lambda lab: (truth.count(lab), -PUBMEDQA_LABELS.index(lab)))
        for name, label in (('constant "yes"', "yes"), (f'majority ("{major}")', major)):
            acc = np.array([t == label for t in truth], dtype=float)
            rows.append({"name": name, "task": "pubmedqa",
                         "metrics": _pubmedqa_metrics(truth, {label: np.ones(n)}, acc)})
        third = np.full(n, 1 / 3)
        rows.append({"name": "uniform random", "task": "pubmedqa",
                     "metrics": _pubmedqa_metrics(truth, {lab: third for lab in PUBMEDQA_LABELS}, third)})
    return rows
