"""Bootstrap confidence intervals, paired differences and McNemar's exact test for the report.

Every reported metric is a function of *per-item sums*: accuracy is sum(correct) / sum(1),
a yes/no F1 is 2·TP / (2·TP + misses + false alarms), bits per byte is sum(nll) / (ln 2 ·
sum(bytes)).  A :class:`Metric` holds one row of columns per item (question or document) and
that function, so a bootstrap resample is a vector of item *counts* and its statistic is the
function of ``counts @ columns`` -- one matrix product per block of resamples instead of a
Python loop over resamples (this keeps 1,000 resamples cheap next to the evaluation itself).

Intervals are percentile intervals of ``resamples`` resamples of the items, drawn by
``numpy.random.default_rng(seed)``: the same seed, items and resample count give the same
interval.  A paired comparison resamples the items *once* and computes both models' statistics
on the same resample, so question difficulty cancels out of the difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
# Resamples per block: bounds memory to BLOCK x items counts (a 100k-document LM set: 80 MB).
BLOCK = 100


@dataclass
class Metric:
    """``fn(sums)`` of per-item ``columns`` (items x k); ``fn`` maps (..., k) sums to (...) values."""

    columns: np.ndarray
    fn: Callable[[np.ndarray], np.ndarray]

    @property
    def n(self) -> int:
        return int(self.columns.shape[0])

    def value(self) -> float:
        return float(self.fn(self.columns.sum(axis=0)))

    def take(self, rows: list[int]) -> Metric:
        return Metric(self.columns[rows], self.fn)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def mean_metric(values) -> Metric:
    x = np.asarray(values, dtype=float)
    return Metric(np.stack([x, np.ones_like(x)], axis=1), lambda s: _safe_div(s[..., 0], s[..., 1]))


def f1_columns(tp, fp, fn) -> np.ndarray:
    return np.stack([np.asarray(a, dtype=float) for a in (tp, fp, fn)], axis=1)


def _f1(s: np.ndarray) -> np.ndarray:
    return _safe_div(2 * s[..., 0], 2 * s[..., 0] + s[..., 1] + s[..., 2])


def f1_metric(tp, fp, fn) -> Metric:
    """2TP / (2TP + FP + FN) of per-item indicator (or expected-count) columns."""
    return Metric(f1_columns(tp, fp, fn), _f1)


def macro_f1_metric(per_label: list[np.ndarray], present_only: bool) -> Metric:
    """Mean F1 over labels (each a (items x 3) tp/fp/fn block).

    ``present_only``: average over the labels that occur (gold or predicted) in the resample, as
    scikit-learn's ``f1_score(average="macro")`` (PubMedQA); otherwise over all labels (BioASQ).
    """
    k = len(per_label)

    def fn(s: np.ndarray) -> np.ndarray:
        blocks = [s[..., 3 * i : 3 * i + 3] for i in range(k)]
        f1s = np.stack([_f1(b) for b in blocks], axis=-1)
        if not present_only:
            return f1s.mean(axis=-1)
        present = np.stack([b.sum(axis=-1) > 0 for b in blocks], axis=-1)
        return _safe_div((f1s * present).sum(axis=-1), present.sum(axis=-1))

    return Metric(np.concatenate(per_label, axis=1), fn)


def lm_metric(nll, tokens, nbytes, kind: str) -> Metric:
    """Per-document sums -> cross_entropy (nats/token), perplexity, or bits_per_byte."""
    cols = np.stack([np.asarray(a, dtype=float) for a in (nll, tokens, nbytes)], axis=1)
    fns = {
        "cross_entropy": lambda s: _safe_div(s[..., 0], s[..., 1]),
        "perplexity": lambda s: np.exp(_safe_div(s[..., 0], s[..., 1])),
        "bits_per_byte": lambda s: _safe_div(s[..., 0], math.log(2) * s[..., 2]),
    }
    return Metric(cols, fns[kind])


def _resample_stats(metrics: list[Metric], resamples: int, seed: int) -> np.ndarray:
    """(resamples x len(metrics)) statistics; every metric sees the same resamples of its items."""
    n = metrics[0].n
    if any(m.n != n for m in metrics):
        raise ValueError(f"paired metrics must cover the same items, got {[m.n for m in metrics]}")
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, len(metrics)))
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        # Item counts per resample in one bincount over (row, item) cells (np.add.at is ~10x slower).
        counts = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(float)
        for j, m in enumerate(metrics):
            out[start : start + b, j] = m.fn(counts @ m.columns)
    return out


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(lo), float(hi)


def interval(metric: Metric, resamples: int, seed: int) -> dict:
    """``{"value", "ci_low", "ci_high", "n"}``: the point value and its 95 % bootstrap interval."""
    value = metric.value()
    if metric.n == 0 or resamples <= 0:
        return {"value": value, "ci_low": None, "ci_high": None, "n": metric.n}
    lo, hi = _percentiles(_resample_stats([metric], resamples, seed)[:, 0])
    return {"value": value, "ci_low": lo, "ci_high": hi, "n": metric.n}


def paired_difference(a: Metric, b: Metric, resamples: int, seed: int) -> dict:
    """A - B on the same items with a paired-bootstrap 95 % interval."""
    value = a.value() - b.value()
    if a.n == 0 or resamples <= 0:
        return {"value": value, "ci_low": None, "ci_high": None, "n": a.n}
    stats = _resample_stats([a, b], resamples, seed)
    lo, hi = _percentiles(stats[:, 0] - stats[:, 1])
    return {"value": value, "ci_low": lo, "ci_high": hi, "n": a.n}


def mcnemar_exact(a_correct, b_correct) -> dict:
    """Exact (binomial) McNemar test on paired right/wrong outcomes.

    ``b`` = items A got right and B wrong, ``c`` = the reverse; under H0 the discordant items split
    as Binomial(b + c, 1/2), and the two-sided p-value is min(1, 2 P[X <= min(b, c)]).  Written out
    (three lines of integer arithmetic, exact for any size) rather than adding SciPy as a dependency.
    """
    a_correct, b_correct = list(map(bool, a_correct)), list(map(bool, b_correct))
    if len(a_correct) != len(b_correct):
        raise ValueError("McNemar needs the same items for both models")
    b = sum(x and not y for x, y in zip(a_correct, b_correct))
    c = sum(y and not x for x, y in zip(a_correct, b_correct))
    n = b + c
    p = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n)
    return {"b": b, "c": c, "p_value": p}
