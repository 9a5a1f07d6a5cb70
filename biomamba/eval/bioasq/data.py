"""BioASQ task-b JSON: training sets, test batches and golden files.

A file is ``{"questions": [...]}``; each question has ``id``, ``body``,
``type`` (yesno | factoid | list | summary), ``documents`` (PubMed URLs),
``snippets`` (``text`` plus ``document``, ``beginSection``, ``endSection``,
``offsetInBeginSection``, ``offsetInEndSection``) and, in training sets and
golden files, ``exact_answer`` and ``ideal_answer``.

Exact answers come in several historical shapes; they are normalized here so
the rest of the code sees one shape per type:

* yesno: ``"yes"`` or ``"no"`` -- decided like the official evaluator: the
  lower-cased string containing "yes" is yes, else containing "no" is no.
* factoid: a list of entities, each a list of synonyms.  Older files give one
  entity as a flat list of synonyms (``["p53", "TP53"]``); newer ones a list
  of lists (``[["p53", "TP53"]]``).
* list: a list of entities, each a list of synonyms (a flat list of strings
  means one synonym per entity).
* summary: no exact answer.

Original casing is kept (prompts and training targets want it); the scorer
lower-cases when it compares.  A malformed question is skipped and listed in
the :class:`~biomamba.eval.load_report.LoadReport` with its id and the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from biomamba.eval.load_report import LoadReport

QUESTION_TYPES = ("yesno", "factoid", "list", "summary")


class BioASQFormatError(ValueError):
    """The file as a whole is not a BioASQ question file (message names the file)."""


class MalformedQuestion(ValueError):
    """One question cannot be used; the message says why."""


@dataclass(frozen=True)
class Snippet:
    text: str
    document: str = ""
    begin_section: str = ""
    end_section: str = ""
    offset_begin: int | None = None
    offset_end: int | None = None


@dataclass
class Question:
    id: str
    body: str
    type: str
    documents: list[str] = field(default_factory=list)
    snippets: list[Snippet] = field(default_factory=list)
    # yesno: "yes"/"no"; factoid/list: list of entities (lists of synonyms); summary or unanswered: None
    exact_answer: str | list[list[str]] | None = None
    ideal_answers: list[str] = field(default_factory=list)


def yesno_label(answer: str) -> str | None:
    """The official reading of a yes/no answer: "yes", "no", or None (neither).

    Substring tests on the lower-cased text, "yes" first, so "None of the
    above" counts as "no" -- exactly what the official evaluator does.
    """
    text = answer.lower()
    if "yes" in text:
        return "yes"
    if "no" in text:
        return "no"
    return None


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise MalformedQuestion(f"{what} must be a list of strings, got {value!r}")
    return value


def _entities(value: Any, qtype: str) -> list[list[str]]:
    """Gold factoid/list exact answer -> list of entities (non-empty synonym lists).

    Synonyms are kept exactly as written, whitespace-only ones included, and
    an empty entity list is dropped: the official evaluator's gold parser
    (``Task1bData.readExactAnswerListOfArraysv2``) does both, so a gold entity
    whose only synonym is " " stays in the recall denominator.
    """
    if not isinstance(value, list) or not value:
        raise MalformedQuestion(f"{qtype} exact_answer must be a non-empty list, got {value!r}")
    if all(isinstance(v, str) for v in value):
        entities = [list(value)] if qtype == "factoid" else [[s] for s in value]
    elif all(isinstance(v, list) for v in value):
        entities = [list(_strings(v, f"{qtype} exact_answer entity")) for v in value]
    else:
        raise MalformedQuestion(f"{qtype} exact_answer mixes strings and lists: {value!r}")
    entities = [e for e in entities if e]
    if not entities:
        raise MalformedQuestion(f"{qtype} exact_answer has no answer string")
    return entities


def _exact_answer(qtype: str, value: Any) -> str | list[list[str]] | None:
    if qtype == "summary":
        return None
    if qtype == "yesno":
        if not isinstance(value, str):
            raise MalformedQuestion(f"yesno exact_answer must be a string, got {value!r}")
        label = yesno_label(value)
        if label is None:
            raise MalformedQuestion(f"yesno exact_answer {value!r} contains neither 'yes' nor 'no'")
        return label
    return _entities(value, qtype)


def _ideal_answers(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [s.strip() for s in _strings(value, "ideal_answer") if s.strip()]


def _snippet(raw: Any) -> Snippet:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise MalformedQuestion(f"snippet without a text string: {str(raw)[:80]!r}")
    offsets = []
    for key in ("offsetInBeginSection", "offsetInEndSection"):
        v = raw.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise MalformedQuestion(f"snippet {key} must be an integer, got {v!r}")
        offsets.append(v)
    return Snippet(
        text=raw["text"],
        document=str(raw.get("document", "")),
        begin_section=str(raw.get("beginSection", "")),
        end_section=str(raw.get("endSection", "")),
        offset_begin=offsets[0],
        offset_end=offsets[1],
    )


def parse_question(raw: Any, require_answers: bool) -> Question:
    """One JSON question -> :class:`Question`; raises :class:`MalformedQuestion`."""
    if not isinstance(raw, dict):
        raise MalformedQuestion(f"a question must be a JSON object, got {type(raw).__name__}")
    qid = raw.get("id")
    if not isinstance(qid, str) or not qid.strip():
        raise MalformedQuestion(f"missing or empty id: {qid!r}")
    body = raw.get("body")
    if not isinstance(body, str) or not body.strip():
        raise MalformedQuestion("missing or empty body")
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        raise MalformedQuestion(f"type {qtype!r} is not one of {list(QUESTION_TYPES)}")
    documents = _strings(raw.get("documents", []), "documents")
    snippets_raw = raw.get("snippets", [])
    if not isinstance(snippets_raw, list):
        raise MalformedQuestion(f"snippets must be a list, got {type(snippets_raw).__name__}")
    snippets = [_snippet(s) for s in snippets_raw]

    exact, ideal = None, []
    if "ideal_answer" in raw:
        ideal = _ideal_answers(raw["ideal_answer"])
    if "exact_answer" in raw:
        exact = _exact_answer(qtype, raw["exact_answer"])
    if require_answers:
        if qtype != "summary" and exact is None:
            raise MalformedQuestion(f"{qtype} question without exact_answer")
        if qtype == "summary" and not ideal:
            raise MalformedQuestion("summary question without ideal_answer")
    return Question(qid, body.strip(), qtype, documents, snippets, exact, ideal)


def parse_questions(data: Any, source: str, require_answers: bool) -> tuple[list[Question], LoadReport]:
    """Parsed JSON document -> (usable questions, report of the skipped ones)."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise BioASQFormatError(f'{source}: expected a JSON object with a "questions" list')
    report = LoadReport(source)
    questions: list[Question] = []
    seen_ids: set[str] = set()
    for index, raw in enumerate(data["questions"]):
        report.seen += 1
        key = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"] else f"#{index}"
        try:
            question = parse_question(raw, require_answers)
        except MalformedQuestion as exc:
            report.skip(key, str(exc))
            continue
        if question.id in seen_ids:
            report.skip(key, "duplicate id (the first occurrence is kept)")
            continue
        seen_ids.add(question.id)
        questions.append(question)
        report.loaded += 1
    return questions, report


def load_bioasq(path: str | os.PathLike, require_answers: bool = False) -> tuple[list[Question], LoadReport]:
    """Read a BioASQ task-b file.

    ``require_answers=True`` for training sets and golden files: a non-summary
    question without an exact answer (or a summary without an ideal answer)
    is then malformed.  Test batches (no answers) load with the default.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise BioASQFormatError(f"{path}: not valid JSON ({exc})") from exc
    return parse_questions(data, str(path), require_answers)
