"""The official BioASQ Phase-B submission JSON: writing ours, reading anyone's.

Shape: ``{"questions": [{"id", "exact_answer", "ideal_answer"}, ...]}`` with
``exact_answer`` per question type:

* yesno: ``"yes"`` or ``"no"``
* factoid: up to 5 candidates, best first, each a one-element list: ``[["p53"], ["mdm2"]]``
* list: up to 100 items, each a one-element list: ``[["BRCA1"], ["BRCA2"]]``
* summary: no ``exact_answer``

Since BioASQ5 participants submit no synonyms; the official evaluator reads
only the first string of each inner list.  Every string is capped at 100
characters and the ideal answer at 200 words, as the BioASQ guidelines ask.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from biomamba.io import atomic_write_text

MAX_FACTOID_CANDIDATES = 5
MAX_LIST_ITEMS = 100
MAX_ENTITY_CHARS = 100
MAX_IDEAL_WORDS = 200


@dataclass(frozen=True)
class JsonNumber:
    """A number in a submission file, kept as its literal JSON text.

    The official evaluator reads answers with gson's ``nextString``, which
    returns a number's text ("5", "1.50", "1e3" as written); Python's float
    would turn "1.50" into 1.5, so the reader keeps the text instead.
    """

    text: str


class SubmissionFormatError(ValueError):
    """A submission file (or an answer given to the writer) has the wrong shape."""


@dataclass
class Answer:
    """Our answer to one question; ``exact`` is a str (yesno), a ranked list of str, or None."""

    id: str
    type: str
    exact: str | list[str] | None = None
    ideal: str = ""
    extra: dict = field(default_factory=dict)  # diagnostics (e.g. log-likelihoods); not written


def cap_words(text: str, max_words: int = MAX_IDEAL_WORDS) -> str:
    words = text.split()
    return " ".join(words[:max_words])


def answer_to_json(answer: Answer) -> dict:
    out: dict = {"id": answer.id}
    if answer.type == "yesno":
        if answer.exact not in ("yes", "no"):
            raise SubmissionFormatError(f"{answer.id}: a yes/no answer must be 'yes' or 'no', got {answer.exact!r}")
        out["exact_answer"] = answer.exact
    elif answer.type in ("factoid", "list"):
        if not isinstance(answer.exact, list) or not all(isinstance(s, str) for s in answer.exact):
            raise SubmissionFormatError(f"{answer.id}: a {answer.type} answer must be a list of strings")
        cap = MAX_FACTOID_CANDIDATES if answer.type == "factoid" else MAX_LIST_ITEMS
        items = [s.strip()[:MAX_ENTITY_CHARS] for s in answer.exact if s.strip()][:cap]
        out["exact_answer"] = [[s] for s in items]
    elif answer.type != "summary":
        raise SubmissionFormatError(f"{answer.id}: unknown question type {answer.type!r}")
    out["ideal_answer"] = cap_words(answer.ideal)
    return out


def write_submission(answers: list[Answer], path: str | os.PathLike) -> dict:
    """Write the submission file (atomically) and return the JSON written."""
    doc = {"questions": [answer_to_json(a) for a in answers]}
    atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False))
    return doc


def read_submission(path: str | os.PathLike) -> tuple[dict[str, dict], list[str]]:
    """Submission file -> ({id: question object}, warnings).

    Only the file's outer shape is checked here (numbers are kept as
    :class:`JsonNumber`); each answer is read with the official rules by the
    scorer, which knows the question type from the gold
    file.  A repeated id keeps its first occurrence (and is warned about).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f, parse_int=JsonNumber, parse_float=JsonNumber)
    except json.JSONDecodeError as exc:
        raise SubmissionFormatError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise SubmissionFormatError(f'{path}: expected a JSON object with a "questions" list')
    by_id: dict[str, dict] = {}
    warnings: list[str] = []
    for index, q in enumerate(data["questions"]):
        if not isinstance(q, dict) or not isinstance(q.get("id"), str):
            warnings.append(f"submission question #{index} has no string id; ignored")
        elif q["id"] in by_id:
            warnings.append(f"{q['id']}: repeated in the submission; the first occurrence is scored")
        else:
            by_id[q["id"]] = q
    return by_id, warnings
