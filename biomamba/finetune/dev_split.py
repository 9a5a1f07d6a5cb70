"""Carve the dev split out of the training questions, deterministically and without leaks.

A question is dev when ``blake2b(salt, id)`` maps below ``dev_fraction``: the choice depends
on nothing but its id, so it is the same on every rank and every rerun, and a question keeps
its side when the training file grows (a later year's file re-carves the same old questions
the same way). The split never looks at test data; questions listed in ``exclude`` files
(e.g. the test batches one reports on) are removed from both sides.

BioASQ training sets repeat questions under new ids across years; a training question with
the same (normalized) text as a dev question is dropped, so the dev score is not inflated by
questions the model was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from biomamba.eval.bioasq.data import Question


def dev_hash(question_id: str, salt: str) -> float:
    """Uniform in [0, 1), fixed by (salt, id)."""
    digest = hashlib.blake2b(f"{salt}\0{question_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def normalized_text(body: str) -> str:
    return " ".join(body.lower().split())


@dataclass
class DevSplit:
    train: list[Question]
    dev: list[Question]
    excluded: list[str] = field(default_factory=list)  # ids removed because an exclude file holds them
    duplicates_dropped: list[str] = field(default_factory=list)  # training ids whose text is a dev question's

    def summary(self) -> str:
        return (f"{len(self.train)} training and {len(self.dev)} dev questions; {len(self.excluded)} excluded "
                f"(exclude_json), {len(self.duplicates_dropped)} training questions dropped as repeats of dev ones")


def carve_dev(questions: list[Question], fraction: float, salt: str, exclude: list[Question] = ()) -> DevSplit:
    """Split ``questions`` into training and dev (both in input order)."""
    banned_ids = {q.id for q in exclude}
    banned_text = {normalized_text(q.body) for q in exclude}
    kept, excluded = [], []
    for q in questions:
        (excluded if q.id in banned_ids or normalized_text(q.body) in banned_text else kept).append(q)
    dev = [q for q in kept if dev_hash(q.id, salt) < fraction]
    dev_ids = {q.id for q in dev}
    dev_text = {normalized_text(q.body) for q in dev}
    train, duplicates = [], []
    for q in kept:
        if q.id in dev_ids:
            continue
        (duplicates if normalized_text(q.body) in dev_text else train).append(q)
    return DevSplit(train, dev, [q.id for q in excluded], [q.id for q in duplicates])
