"""PubMedQA in its original format (``ori_pqal.json``, ``ori_pqaa.json``, ``test_set.json``).

A file is a JSON object PMID -> record with upper-case keys: ``QUESTION``
(str), ``CONTEXTS`` (list of str, the abstract without its conclusion),
``LABELS`` (section labels of the contexts), ``MESHES``, ``YEAR``,
``LONG_ANSWER`` (the conclusion) and ``final_decision`` (yes | no | maybe).
The ground-truth file ``test_ground_truth.json`` maps PMID -> label.

Records that cannot be used are skipped and listed in the
:class:`~biomamba.eval.load_report.LoadReport` with their PMID and the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from biomamba.eval.load_report import LoadReport

PUBMEDQA_LABELS = ("yes", "no", "maybe")


class PubMedQAFormatError(ValueError):
    """The file as a whole is not in PubMedQA's format (message names the file)."""


@dataclass
class PubMedQAItem:
    pmid: str
    question: str
    contexts: list[str]
    context_labels: list[str] = field(default_factory=list)
    long_answer: str = ""
    final_decision: str | None = None
    year: str | None = None
    meshes: list[str] = field(default_factory=list)


def _read_json(path: str | os.PathLike) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise PubMedQAFormatError(f"{path}: not valid JSON ({exc})") from exc


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def parse_item(pmid: str, raw: Any, require_label: bool) -> PubMedQAItem:
    """One record -> :class:`PubMedQAItem`; raises ValueError naming the problem."""
    if not isinstance(raw, dict):
        raise ValueError(f"record must be a JSON object, got {type(raw).__name__}")
    question = raw.get("QUESTION")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing or empty QUESTION")
    contexts = raw.get("CONTEXTS")
    if not _is_str_list(contexts) or not contexts:
        raise ValueError("CONTEXTS must be a non-empty list of strings")
    labels = raw.get("LABELS", [])
    if not _is_str_list(labels):
        raise ValueError("LABELS must be a list of strings")
    decision = raw.get("final_decision")
    if decision is not None and decision not in PUBMEDQA_LABELS:
        raise ValueError(f"final_decision {decision!r} is not one of {list(PUBMEDQA_LABELS)}")
    if require_label and decision is None:
        raise ValueError("missing final_decision")
    long_answer = raw.get("LONG_ANSWER", "")
    if not isinstance(long_answer, str):
        raise ValueError("LONG_ANSWER must be a string")
    meshes = raw.get("MESHES", [])
    year = raw.get("YEAR")
    return PubMedQAItem(
        pmid=pmid,
        question=question.strip(),
        contexts=contexts,
        context_labels=labels,
        long_answer=long_answer,
        final_decision=decision,
        year=str(year) if year is not None else None,
        meshes=meshes if _is_str_list(meshes) else [],
    )


def parse_pubmedqa(data: Any, source: str, require_label: bool = True) -> tuple[list[PubMedQAItem], LoadReport]:
    """Parsed JSON (PMID -> record) -> (items in file order, report)."""
    if not isinstance(data, dict):
        raise PubMedQAFormatError(f"{source}: expected a JSON object mapping PMID to record")
    report = LoadReport(source)
    items = []
    for pmid, raw in data.items():
        report.seen += 1
        try:
            items.append(parse_item(str(pmid), raw, require_label))
        except ValueError as exc:
            report.skip(str(pmid), str(exc))
            continue
        report.loaded += 1
    return items, report


def load_pubmedqa(path: str | os.PathLike, require_label: bool = True) -> tuple[list[PubMedQAItem], LoadReport]:
    """Read ``ori_pqal.json`` (or any file of that format); labels required by default."""
    return parse_pubmedqa(_read_json(path), str(path), require_label)


def load_ground_truth(path: str | os.PathLike) -> dict[str, str]:
    """``test_ground_truth.json`` -> {PMID: label}; any other label is an error."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise PubMedQAFormatError(f"{path}: expected a JSON object mapping PMID to label")
    bad = {k: v for k, v in data.items() if v not in PUBMEDQA_LABELS}
    if bad:
        first = next(iter(bad.items()))
        raise PubMedQAFormatError(f"{path}: {len(bad)} labels are not yes/no/maybe, e.g. {first}")
    return {str(k): v for k, v in data.items()}
