"""ROUGE-2 and ROUGE-SU4 for BioASQ ideal answers.

ROUGE-2 comes from Google's maintained ``rouge-score`` package.  ROUGE-SU4 is
implemented here because no maintained Python package provides it
(``rouge-score`` has ROUGE-N, ROUGE-L and ROUGE-Lsum only; the original
ROUGE-1.5.5 is an unmaintained Perl script).  It follows ROUGE-1.5.5's
``-2 4 -u``: the units are every unigram plus every ordered word pair
``(w_i, w_j)`` with ``i < j <= i + 5`` (at most four words skipped), counted
with multiplicity; hits are clipped counts, recall = hits / reference units,
precision = hits / candidate units, F1 their harmonic mean.

Both measures share ``rouge-score``'s tokenizer (lower-case, non-alphanumeric
characters are separators; optional Porter stemming), so they see the same
words.  With several reference ideal answers, a candidate is scored against
each and the reference giving the best F1 is kept (``rouge-score``'s
``score_multi`` rule).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rouge_score import rouge_scorer, tokenizers

SU4_MAX_SKIP = 4


@dataclass(frozen=True)
class RougeScore:
    precision: float
    recall: float
    f1: float


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def su_units(tokens: list[str], max_skip: int = SU4_MAX_SKIP) -> Counter:
    """Unigrams plus skip-bigrams with at most ``max_skip`` words between the pair."""
    units: Counter = Counter((t,) for t in tokens)
    for i, first in enumerate(tokens):
        for j in range(i + 1, min(len(tokens), i + max_skip + 2)):
            units[(first, tokens[j])] += 1
    return units


def _overlap_score(reference: Counter, candidate: Counter) -> RougeScore:
    hits = sum(min(n, candidate[unit]) for unit, n in reference.items())
    p = hits / sum(candidate.values()) if candidate else 0.0
    r = hits / sum(reference.values()) if reference else 0.0
    return RougeScore(p, r, _f1(p, r))


class IdealAnswerRouge:
    """Scores a candidate ideal answer against one or more reference answers."""

    def __init__(self, use_stemmer: bool = False):
        self._tokenizer = tokenizers.DefaultTokenizer(use_stemmer=use_stemmer)
        self._rouge2 = rouge_scorer.RougeScorer(["rouge2"], tokenizer=self._tokenizer)

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def rouge2(self, references: list[str], candidate: str) -> RougeScore:
        scores = [self._rouge2.score(ref, candidate)["rouge2"] for ref in references]
        best = max(scores, key=lambda s: s.fmeasure, default=None)
        return RougeScore(best.precision, best.recall, best.fmeasure) if best else RougeScore(0.0, 0.0, 0.0)

    def rouge_su4(self, references: list[str], candidate: str) -> RougeScore:
        cand = su_units(self.tokenize(candidate))
        scores = [_overlap_score(su_units(self.tokenize(ref)), cand) for ref in references]
        return max(scores, key=lambda s: s.f1, default=RougeScore(0.0, 0.0, 0.0))
