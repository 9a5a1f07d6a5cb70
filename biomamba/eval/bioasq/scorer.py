"""BioASQ Phase-B scoring, rule for rule as the official evaluator.

Reimplements ``evaluation.EvaluatorTask1b -phaseB`` of BioASQ's
Evaluation-Measures (flat/BioASQEvaluation, versions 5-9 of the measures):

* Every exact-answer string, gold and submitted, is lower-cased; matching is
  exact string equality (no trimming, no stemming).
* yes/no: an answer containing "yes" is yes, else one containing "no" is no
  (so "None of the above" reads as no), else it is wrong.  Accuracy is the
  share of correct answers.  F1 for a label L is 2TP/(2TP+FP+FN) where, as in
  the official code, every wrong answer counts against both labels (a wrong
  answer to a gold-L question is a miss for L and a false alarm for the other
  label, even when it is neither yes nor no); macro-F1 is the mean over yes
  and no.
* Submitted factoid/list answers are read as the official parser (gson, in
  ``Task1bData.readExactAnswerListOfArraysv3``) reads them: the first string of
  each inner list only; an empty inner list adds nothing (it takes no rank and
  is no false positive); a JSON number is read as its text (``[[5]]`` is the
  answer "5", ``[[1.50]]`` is "1.50").  Gold synonyms are kept as written, even
  whitespace-only ones (see :mod:`biomamba.eval.bioasq.data`).
* factoid: the submission's candidates are read in order.  Strict = the first candidate equals a gold synonym,
  lenient = some candidate does, reciprocal rank = 1/rank of the first match
  (0 if none); each averaged over factoid questions.
* list: each submitted item (first string) that equals a synonym of a gold
  entity not matched yet is a TP and consumes that entity; otherwise it is a
  FP, so duplicates are FPs.  A gold entity left unmatched is a FN unless one
  of its synonyms equals a submitted item not yet used for that purpose (the
  official second pass; it only matters when gold entities share synonyms).
  P = TP/(TP+FP), R = TP/(TP+FN), F1 their harmonic mean, all 0 for an empty
  answer; averaged over list questions.
* summary questions get no exact-answer score.
* A submitted exact answer of the wrong shape (e.g. a flat list of strings for
  a factoid, or true/null as an answer) scores 0 and is reported in
  ``warnings``; the official jar crashes on these.

Questions missing from the submission score 0 (``missing="zero"``, our
default: a partial submission must not look better than a complete one).
The official jar instead leaves them out of the averages (``-e 9``) or fails
(``-e 5``); ``missing="skip"`` reproduces the former.

Ideal answers (every question type) are scored with ROUGE-2 and ROUGE-SU4,
recall and F1 (see :mod:`biomamba.eval.bioasq.rouge`), averaged over the gold
questions that have ideal answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from biomamba.eval.bioasq.data import Question, load_bioasq, yesno_label
from biomamba.eval.bioasq.rouge import IdealAnswerRouge, RougeScore
from biomamba.eval.bioasq.submission import JsonNumber, read_submission

MissingPolicy = Literal["zero", "skip"]

SCORE_KEYS = (
    "yesno_accuracy",
    "yesno_macro_f1",
    "yesno_f1_yes",
    "yesno_f1_no",
    "factoid_strict_accuracy",
    "factoid_lenient_accuracy",
    "factoid_mrr",
    "list_mean_precision",
    "list_mean_recall",
    "list_mean_f1",
    "rouge2_recall",
    "rouge2_f1",
    "rougesu4_recall",
    "rougesu4_f1",
)


class _Malformed(Exception):
    pass


def read_yesno(value: Any) -> str | None:
    """Submitted yes/no answer -> "yes", "no" or None (neither: always wrong)."""
    if not isinstance(value, str):
        raise _Malformed(f"yes/no exact_answer must be a string, got {type(value).__name__}")
    return yesno_label(value) if value else None


def _answer_text(value: Any) -> str:
    """One submitted answer string as gson's ``nextString`` reads it: a JSON number gives its text."""
    if isinstance(value, str):
        return value
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a Python caller's number; a file's numbers arrive as JsonNumber (exact text)
    raise _Malformed(f"answer entries must be strings, got {value!r}")


def read_candidates(value: Any) -> list[str]:
    """Submitted factoid/list answer -> lower-cased first string of each non-empty inner list."""
    if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
        raise _Malformed("factoid/list exact_answer must be a list of lists of strings")
    return [_answer_text(inner[0]).lower() for inner in value if inner]


def _gold_entities(question: Question) -> list[list[str]]:
    return [[s.lower() for s in entity] for entity in question.exact_answer]


def factoid_scores(gold: list[list[str]], candidates: list[str]) -> tuple[float, float, float]:
    """(strict, lenient, reciprocal rank) of ranked candidates against gold entities."""
    synonyms = {s for entity in gold for s in entity}
    for rank, candidate in enumerate(candidates, start=1):
        if candidate in synonyms:
            return (1.0 if rank == 1 else 0.0), 1.0, 1.0 / rank
    return 0.0, 0.0, 0.0


def list_scores(gold: list[list[str]], items: list[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) of a list answer; see the module docstring for the rules."""
    if not items:
        return 0.0, 0.0, 0.0
    unmatched = [list(entity) for entity in gold]
    tp = fp = 0
    for item in items:
        hit = next((i for i, entity in enumerate(unmatched) if item in entity), None)
        if hit is None:
            fp += 1
        else:
            tp += 1
            del unmatched[hit]
    available = list(items)
    fn = 0
    for entity in unmatched:
        hit = next((i for i, item in enumerate(available) if item in entity), None)
        if hit is None:
            fn += 1
        else:
            del available[hit]
    precision = tp / (tp + fp)
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return precision, recall, f1


def yesno_f1(gold_labels: list[str], correct: list[bool], label: str) -> float:
    """Official per-label F1 = 2TP/(2TP+FP+FN), a wrong answer counting against both labels."""
    tp = sum(1 for g, c in zip(gold_labels, correct) if g == label and c)
    misses = sum(1 for g, c in zip(gold_labels, correct) if g == label and not c)
    false_alarms = sum(1 for g, c in zip(gold_labels, correct) if g != label and not c)
    denominator = 2 * tp + misses + false_alarms
    return 2 * tp / denominator if denominator else 0.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _ideal_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return None


@dataclass
class PhaseBResult:
    scores: dict[str, float]
    counts: dict[str, int]
    per_question: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self, per_question: bool = False) -> dict:
        out: dict = {**self.scores, "counts": self.counts, "warnings": self.warnings}
        if per_question:
            out["per_question"] = self.per_question
        return out


def score_phase_b(
    gold: list[Question],
    submission: dict[str, dict],
    missing: MissingPolicy = "zero",
    use_stemmer: bool = False,
) -> PhaseBResult:
    """Score a submission ({id: submitted question object}) against gold questions."""
    if missing not in ("zero", "skip"):
        raise ValueError(f"missing must be 'zero' or 'skip', got {missing!r}")
    rouge = IdealAnswerRouge(use_stemmer=use_stemmer)
    warnings: list[str] = []
    yn_gold, yn_correct = [], []
    strict, lenient, rr = [], [], []
    lp, lr, lf = [], [], []
    r2r, r2f, sur, suf = [], [], [], []
    per_question = []
    counts = {t: 0 for t in ("yesno", "factoid", "list", "summary")}
    counts["missing"] = 0
    gold_ids = {q.id for q in gold}
    for unknown in sorted(set(submission) - gold_ids):
        warnings.append(f"{unknown}: not in the gold file; ignored")

    for q in gold:
        sub = submission.get(q.id)
        counts[q.type] += 1
        if sub is None:
            counts["missing"] += 1
            if missing == "skip":
                continue
        row: dict[str, Any] = {"id": q.id, "type": q.type, "missing": sub is None}
        exact = sub.get("exact_answer") if sub is not None else None
        try:
            if q.type == "yesno":
                answer = read_yesno(exact) if exact is not None else None
                correct = answer is not None and answer == q.exact_answer
                yn_gold.append(q.exact_answer)
                yn_correct.append(correct)
                row["correct"] = correct
            elif q.type == "factoid":
                cands = read_candidates(exact) if exact is not None else []
                st, le, r = factoid_scores(_gold_entities(q), cands)
                strict.append(st), lenient.append(le), rr.append(r)
                row.update(strict=st, lenient=le, rr=r)
            elif q.type == "list":
                items = read_candidates(exact) if exact is not None else []
                p, r, f = list_scores(_gold_entities(q), items)
                lp.append(p), lr.append(r), lf.append(f)
                row.update(precision=p, recall=r, f1=f)
        except _Malformed as exc:
            warnings.append(f"{q.id}: {exc}; scored 0")
            if q.type == "yesno":
                yn_gold.append(q.exact_answer)
                yn_correct.append(False)
            elif q.type == "factoid":
                strict.append(0.0), lenient.append(0.0), rr.append(0.0)
            elif q.type == "list":
                lp.append(0.0), lr.append(0.0), lf.append(0.0)
            row["malformed"] = str(exc)

        if q.ideal_answers:
            ideal = _ideal_text(sub.get("ideal_answer")) if sub is not None else None
            if sub is not None and "ideal_answer" in sub and ideal is None:
                warnings.append(f"{q.id}: ideal_answer must be a string or a list of strings; scored 0")
            zero = RougeScore(0.0, 0.0, 0.0)
            s2 = rouge.rouge2(q.ideal_answers, ideal) if ideal else zero
            s4 = rouge.rouge_su4(q.ideal_answers, ideal) if ideal else zero
            r2r.append(s2.recall), r2f.append(s2.f1), sur.append(s4.recall), suf.append(s4.f1)
            row.update(rouge2_recall=s2.recall, rouge2_f1=s2.f1, rougesu4_recall=s4.recall, rougesu4_f1=s4.f1)
        per_question.append(row)

    scores = {
        "yesno_accuracy": _mean([float(c) for c in yn_correct]),
        "yesno_macro_f1": (yesno_f1(yn_gold, yn_correct, "yes") + yesno_f1(yn_gold, yn_correct, "no")) / 2,
        "yesno_f1_yes": yesno_f1(yn_gold, yn_correct, "yes"),
        "yesno_f1_no": yesno_f1(yn_gold, yn_correct, "no"),
        "factoid_strict_accuracy": _mean(strict),
        "factoid_lenient_accuracy": _mean(lenient),
        "factoid_mrr": _mean(rr),
        "list_mean_precision": _mean(lp),
        "list_mean_recall": _mean(lr),
        "list_mean_f1": _mean(lf),
        "rouge2_recall": _mean(r2r),
        "rouge2_f1": _mean(r2f),
        "rougesu4_recall": _mean(sur),
        "rougesu4_f1": _mean(suf),
    }
    return PhaseBResult(scores, counts, per_question, warnings)


def score_files(
    gold_path: str | os.PathLike,
    submission_path: str | os.PathLike,
    missing: MissingPolicy = "zero",
    use_stemmer: bool = False,
) -> PhaseBResult:
    """Load a golden file and a submission file and score them.

    Malformed gold questions cannot be scored; they are skipped and reported
    in ``warnings`` (never silently).
    """
    gold, report = load_bioasq(gold_path, require_answers=True)
    submission, sub_warnings = read_submission(submission_path)
    result = score_phase_b(gold, submission, missing=missing, use_stemmer=use_stemmer)
    gold_warnings = [f"gold {s.key}: {s.reason}; not scored" for s in report.skipped]
    result.warnings = gold_warnings + sub_warnings + result.warnings
    result.counts["gold_skipped"] = len(report.skipped)
    return result
