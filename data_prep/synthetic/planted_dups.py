"""A synthetic corpus with planted near-duplicates at measured Jaccard similarities.

Used by the near-dedup tests and ``benchmarks/bench_neardedup.py``.  Documents are
random word sequences over a fixed pseudo-word vocabulary (so unrelated documents
share almost no word 5-grams); a planted copy replaces some words of its source.
Each planted pair's Jaccard similarity is *measured* on the same shingles that
:class:`data_prep.stages.clean.dedup.NearDeduper` uses, not assumed from the edit rate.
Everything is a function of the seed.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from data_prep.common.records import dumps, make_record

# words replaced per 100 for each target similarity (J of word 5-grams ~ (1-p)^5 / (2 - (1-p)^5))
EDIT_RATES = {0.97: 0.003, 0.93: 0.008, 0.90: 0.012, 0.85: 0.018, 0.80: 0.025, 0.70: 0.04, 0.50: 0.09}


def _vocab(rng: np.random.Generator, n: int = 20000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lens = rng.integers(3, 10, n)
    return [("".join(letters[rng.integers(0, 26, k)])) for k in lens]


@functools.lru_cache(maxsize=4)
def _shingler(shingle_words: int):
    from data_prep.stages.clean.dedup import NearDeduper

    return NearDeduper(shingle_words=shingle_words, num_perm=16)


def jaccard(a: str, b: str, shingle_words: int = 5) -> float:
    d = _shingler(shingle_words)
    x, y = set(d.shingle_hashes(a).tolist()), set(d.shingle_hashes(b).tolist())
    return len(x & y) / max(1, len(x | y))


def planted_corpus(path: str | Path, docs: int, dup_fraction: float = 0.2, seed: int = 0,
                   words: tuple[int, int] = (150, 300)) -> list[dict]:
    """Write ``docs`` records to ``path`` (JSONL); returns the planted pairs.

    About ``dup_fraction`` of the documents are planted copies of an earlier document
    (a random earlier one: sometimes a copy of a copy), at the similarities of
    ``EDIT_RATES``.  Each pair: ``{"source": id, "copy": id, "target": J, "jaccard": measured}``.
    """
    rng = np.random.default_rng(seed)
    vocab = _vocab(rng)
    targets = list(EDIT_RATES)
    texts: list[list[str]] = []
    pairs: list[dict] = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(docs):
            if texts and rng.random() < dup_fraction:
                src = int(rng.integers(0, len(texts)))
                target = targets[int(rng.integers(0, len(targets)))]
                w = list(texts[src])
                n_edit = max(1, int(round(EDIT_RATES[target] * len(w))))
                for pos in rng.choice(len(w), size=n_edit, replace=False).tolist():
                    w[pos] = vocab[int(rng.integers(0, len(vocab)))]
                pairs.append({"source": f"pmid:{10_000_000 + src}", "copy": f"pmid:{10_000_000 + i}",
                              "target": target, "jaccard": jaccard(" ".join(texts[src]), " ".join(w))})
            else:
                w = [vocab[j] for j in rng.integers(0, len(vocab), int(rng.integers(*words))).tolist()]
            texts.append(w)
            f.write(dumps(make_record(pmid=str(10_000_000 + i), pmcid=None, version=1, title="",
                                      abstract=" ".join(w), language=["eng"], year=2020, publication_types=[],
                                      source="planted")))
    return pairs
