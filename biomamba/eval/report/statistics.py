"""Intervals, baseline rows and paired comparisons of a comparison report (added to report.json).

* ``models[i]["metrics"][metric]`` = ``{"value", "ci_low", "ci_high", "n", "contaminated"}``: a 95 %
  bootstrap interval resampling questions (BioASQ, PubMedQA) or documents (LM metrics).
* ``baselines`` = ``[{"name", "task", "metrics": {metric: interval}}]`` on the same questions.
* ``comparisons`` = ``[{"a", "b", "metric", "difference": interval of a - b, "mcnemar_p", "better"}]``
  for every pair of models and every metric both have on the same items (per-token metrics only
  within a tokenizer group); ``better`` names a model only when the interval excludes zero.
* ``bootstrap`` = ``{"resamples", "seed", "level", "seconds"}``.
"""

from __future__ import annotations

import itertools
import time

from biomamba.eval.intervals import LEVEL, interval, mcnemar_exact, paired_difference

from .contamination import is_contaminated
from .items import baselines, correctness, item_metrics
from .scores import is_per_token, lower_is_better


def _pair(entry_a: dict, entry_b: dict, items_a: dict, items_b: dict, correct_a: dict, correct_b: dict,
          resamples: int, seed: int) -> list[dict]:
    out = []
    same_tokenizer = entry_a["tokenizer"].get("group") == entry_b["tokenizer"].get("group")
    for metric in sorted(set(items_a) & set(items_b)):
        if is_per_token(metric) and not same_tokenizer:
            continue  # per-token numbers of different tokenizers measure different things
        ids_a, m_a = items_a[metric]
        ids_b, m_b = items_b[metric]
        pos_b = {i: k for k, i in enumerate(ids_b)}
        common = [i for i in ids_a if i in pos_b]
        if not common:
            continue
        pos_a = {i: k for k, i in enumerate(ids_a)}
        a, b = m_a.take([pos_a[i] for i in common]), m_b.take([pos_b[i] for i in common])
        diff = paired_difference(a, b, resamples, seed)
        row = {"a": entry_a["name"], "b": entry_b["name"], "metric": metric, "difference": diff, "better": None,
               "contaminated": bool(entry_a["metrics"][metric].get("contaminated")
                                    or entry_b["metrics"][metric].get("contaminated"))}
        if metric in correct_a and metric in correct_b:
            row["mcnemar"] = mcnemar_exact([correct_a[metric][i] for i in common],
                                           [correct_b[metric][i] for i in common])
        lo, hi = diff["ci_low"], diff["ci_high"]
        if lo is not None and (lo > 0 or hi < 0):
            a_higher = lo > 0
            row["better"] = row["a"] if a_higher != lower_is_better(metric) else row["b"]
        out.append(row)
    return out


def add_statistics(report: dict, results: list[dict], resamples: int, seed: int) -> None:
    """Fill ``metrics``, ``baselines``, ``comparisons`` and ``bootstrap`` of ``report`` in place."""
    t0 = time.perf_counter()
    items, correct = [], []
    for entry, result in zip(report["models"], results):
        its = item_metrics(result, entry["scores"])
        items.append(its)
        correct.append(correctness(result))
        per_set = entry.get("contamination", {})
        entry["metrics"] = {}
        for metric in sorted(entry["scores"]):
            if metric in its:
                ci = interval(its[metric][1], resamples, seed)
            else:  # a score without per-item data (none today): its point value, no interval
                ci = {"value": entry["scores"][metric], "ci_low": None, "ci_high": None, "n": None}
            entry["metrics"][metric] = {**ci, "contaminated": is_contaminated(metric, per_set)}
    rows = []
    for task in ("bioasq", "pubmedqa"):
        source = next((r for r in results if task in r), None)
        if source is not None:
            for row in baselines({task: source[task]}):
                rows.append({"name": row["name"], "task": row["task"],
                             "metrics": {k: interval(m, resamples, seed) for k, m in row["metrics"].items()}})
    report["baselines"] = rows
    report["comparisons"] = []
    for i, j in itertools.combinations(range(len(results)), 2):
        report["comparisons"] += _pair(report["models"][i], report["models"][j], items[i], items[j], correct[i],
                                       correct[j], resamples, seed)
    report["bootstrap"] = {"resamples": resamples, "seed": seed, "level": LEVEL,
                           "seconds": time.perf_counter() - t0}
