"""PubMedQA's official splits: 500 test PMIDs and 10 cross-validation folds.

Reimplements ``preprocess/split_dataset.py pqal`` of the PubMedQA repository
so the same PMIDs land in the same splits:

1. ``split(dataset, k)`` groups PMIDs by ``final_decision`` (yes, no, maybe,
   each in file order), shuffles each group, cuts it into ``k`` chunks of
   ``ceil(n/k)`` (the last takes the rest) and makes split ``i`` the
   concatenation of chunk ``i`` of yes, no and maybe.  If the last split came
   out smaller than the first, one random PMID of each other split moves to it.
2. The 1000 labelled questions are split in 2: the first half is the CV set,
   the second the test set; the CV set (in the order built in step 1) is split
   into 10 folds.  Fold ``i`` is the dev set of CV round ``i``; the other nine
   folds, in order, are its training set.

All randomness is one ``random.Random(seed)`` stream consumed in that order
(the original seeds Python's global generator with 0), which is why the test
split must be drawn before the folds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from biomamba.eval.pubmedqa.data import PUBMEDQA_LABELS


def _chunks(pmids: list[str], k: int, rng: random.Random) -> list[list[str]]:
    rng.shuffle(pmids)
    size = math.ceil(len(pmids) / k)
    return [pmids[i * size : (i + 1) * size] if i < k - 1 else pmids[i * size :] for i in range(k)]


def stratified_split(labels: dict[str, str], k: int, rng: random.Random) -> list[list[str]]:
    """One ``split(dataset, k)`` call of the original; ``labels`` is PMID -> decision in file order."""
    by_label: dict[str, list[str]] = {label: [] for label in PUBMEDQA_LABELS}
    for pmid, label in labels.items():
        if label not in by_label:
            raise ValueError(f"PMID {pmid}: label {label!r} is not one of {list(PUBMEDQA_LABELS)}")
        by_label[label].append(pmid)
    chunked = {label: _chunks(pmids, k, rng) for label, pmids in by_label.items()}
    splits = [[pmid for label in PUBMEDQA_LABELS for pmid in chunked[label][i]] for i in range(k)]
    if len(splits[-1]) != len(splits[0]):
        for i in range(k - 1):
            picked = rng.choice(splits[i])
            splits[i].remove(picked)
            splits[-1].append(picked)
    return splits


@dataclass
class PubMedQASplits:
    test: list[str]
    folds: list[list[str]]

    def cv_round(self, i: int) -> tuple[list[str], list[str]]:
        """(train PMIDs, dev PMIDs) of cross-validation round ``i``."""
        if not 0 <= i < len(self.folds):
            raise IndexError(f"fold {i} out of range 0..{len(self.folds) - 1}")
        train = [p for j, fold in enumerate(self.folds) if j != i for p in fold]
        return train, list(self.folds[i])


def official_splits(labels: dict[str, str], n_folds: int = 10, seed: int = 0) -> PubMedQASplits:
    """PMID -> final_decision of ``ori_pqal.json`` (file order) -> the official splits."""
    rng = random.Random(seed)
    cv_half, test_half = stratified_split(labels, 2, rng)
    cv_labels = {pmid: labels[pmid] for pmid in cv_half}
    return PubMedQASplits(test=test_half, folds=stratified_split(cv_labels, n_folds, rng))
