"""Flat metric names for the report, and which of them compare across tokenizers.

``bioasq.<score>`` (official Phase-B scores, only for question types the gold file holds;
ROUGE only when ideal answers were generated), ``pubmedqa.accuracy`` / ``pubmedqa.macro_f1``,
``lm.<set>.cross_entropy`` / ``.perplexity`` / ``.bits_per_byte``.

Cross-entropy and perplexity are per *token*: they compare only models that share a
tokenizer. Bits per byte divides the same log-likelihood by the text's UTF-8 bytes and
compares any models on the same texts (see docs/evaluation.md).
"""

from __future__ import annotations

from biomamba.eval.bioasq.scorer import SCORE_KEYS

LM_METRICS = ("cross_entropy", "perplexity", "bits_per_byte")
PER_TOKEN = ("cross_entropy", "perplexity")
LOWER_IS_BETTER = ("cross_entropy", "perplexity", "bits_per_byte")


def bioasq_scores_that_apply(scores: dict, counts: dict, ideal_answers: bool) -> dict[str, float]:
    """The official scores that mean something here: question types the gold set holds; ROUGE if generated.

    (The scorer reports 0 for a type with no questions, which would read as a failure.)
    """
    def applies(key: str) -> bool:
        kind = key.split("_", 1)[0]
        return ideal_answers if kind.startswith("rouge") else counts.get(kind, 0) > 0

    return {k: scores[k] for k in SCORE_KEYS if applies(k)}


def flatten_scores(result: dict, ideal_answers: bool) -> dict[str, float]:
    """evaluate_model's nested result -> {"bioasq.yesno_accuracy": …, "lm.heldout.bits_per_byte": …}."""
    flat: dict[str, float] = {}
    if "bioasq" in result:
        b = result["bioasq"]
        flat.update({f"bioasq.{k}": v for k, v in bioasq_scores_that_apply(b, b["counts"], ideal_answers).items()})
    if "pubmedqa" in result:
        flat.update({f"pubmedqa.{k}": result["pubmedqa"][k] for k in ("accuracy", "macro_f1")})
    for name, stats in result.get("lm", {}).items():
        flat.update({f"lm.{name}.{k}": stats[k] for k in LM_METRICS})
    return flat


def metric_leaf(metric: str) -> str:
    return metric.rsplit(".", 1)[-1]


def is_per_token(metric: str) -> bool:
    return metric.startswith("lm.") and metric_leaf(metric) in PER_TOKEN


def lower_is_better(metric: str) -> bool:
    return metric.startswith("lm.") and metric_leaf(metric) in LOWER_IS_BETTER
