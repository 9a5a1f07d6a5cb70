"""Stages 3 and 4 of the staged near-dedup (see :mod:`data_prep.stages.clean.neardedup`): clusters, filter.

Clusters (one light task, memory ~ 16 bytes per document in a shared bucket plus
8 bytes per document for the decisions):

* **Kept or removed** — documents in input order; a document is removed when one of its
  LSH buckets (in any band) already holds a kept document, and it then points at the
  earliest such kept document (``duplicate_of``).  This is exactly the single-process
  rule of :class:`data_prep.stages.clean.dedup.NearDeduper` (first occurrence wins; datasketch's
  ``query`` then ``insert``), so both methods keep the same ids.
* **Clusters** — the connected components of "shares a bucket" (union-find, done by
  scipy's ``connected_components`` on the document–bucket graph).  A component whose
  members are linked only through a chain (A~B, B~C, but A and C dissimilar) may keep
  more than one document; their number is reported (``clusters_with_several_kept``).
  The cluster is named after its first document in input order.

Filter (one task per part): writes the kept lines of the part byte-for-byte, so the
parts concatenated in order equal ``clean``'s single-process output.
"""

from __future__ import annotations

import json
import logging

import numpy as np

from biomamba.io import atomic_open
from data_prep.stages.clean.neardedup import (BAND, PART, NearDedupError, Plan, buckets, clear_temps, iter_part, load_npy,
                                 part_docs, receipt_ok, save_npy, signatures, write_receipt)
from data_prep.common.stats import StageStats

log = logging.getLogger("data_prep")


def _memberships(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(document, global group) of every bucket member of every band, sorted by document then group."""
    docs, groups, offset = [], [], 0
    for b in range(plan.bands):
        npy = plan.path("buckets", BAND.format(b) + ".npy")
        r = receipt_ok(plan.path("buckets", BAND.format(b) + ".json"), plan)
        if r is None or not npy.is_file():
            raise NearDedupError(f"buckets of band {b} are missing or from other inputs/settings under {plan.work}: "
                                 "run `neardedup buckets` (all tasks) first")
        m = load_npy(npy)
        docs.append(m[0])
        groups.append(m[1] + offset)
        offset += r["groups"]
    d = np.concatenate(docs) if docs else np.zeros(0, np.int64)
    g = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    order = np.lexsort((g, d))
    return d[order], g[order], offset


def _decide(docs: np.ndarray, groups: np.ndarray, n_groups: int, n_docs: int) -> np.ndarray:
    """-1 for kept documents, else the index of the earliest kept document sharing a bucket."""
    decisions = np.full(n_docs, -1, dtype=np.int64)
    rep = np.full(n_groups, -1, dtype=np.int64)  # the first kept document of each bucket
    if not len(docs):
        return decisions
    starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
    ends = np.r_[starts[1:], len(docs)]
    # Sequential by nature (a document's fate depends on the fates before it); one small
    # numpy lookup per document that shares a bucket, the rest are kept without a visit.
    for s, e in zip(starts.tolist(), ends.tolist()):
        g = groups[s:e]
        hit = rep[g]
        hit = hit[hit >= 0]
        if hit.size:
            decisions[docs[s]] = hit.min()
        else:
            rep[g] = docs[s]
    return decisions


def _components(docs: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(member documents, component label) — union-find over the document–bucket graph."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    members, local = np.unique(docs, return_inverse=True)
    n = len(members) + n_groups
    graph = coo_matrix((np.ones(len(docs), np.int8), (local.reshape(-1), len(members) + groups)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return members, labels[: len(members)]


def _ids_of(plan: Plan, counts: np.ndarray, wanted: np.ndarray) -> dict[int, str]:
    """Record ids of the documents ``wanted`` (sorted global indices), read from the ids files."""
    out: dict[int, str] = {}
    offset = 0
    for k, n in enumerate(counts.tolist()):
        lo, hi = np.searchsorted(wanted, [offset, offset + n])
        if hi > lo:
            names = plan.path("signatures", PART.format(k) + ".ids").read_text().splitlines()
            for i in wanted[lo:hi].tolist():
                out[i] = names[i - offset]
        offset += n
    return out


def clusters(plan: Plan, force: bool = False) -> StageStats:
    out_dir = plan.work / "clusters"
    dec_file, cl_file, receipt = out_dir / "decisions.npy", out_dir / "clusters.jsonl", out_dir / "receipt.json"
    if not force and (r := receipt_ok(receipt, plan, dec_file, cl_file)):
        return StageStats.from_dict(r["stats"])
    clear_temps(dec_file, cl_file, receipt, out_dir / "stats.json")
    stats = StageStats("neardedup-clusters", inputs=plan.inputs)
    counts = part_docs(plan)
    for k in range(len(counts)):
        r = json.loads(plan.path("signatures", PART.format(k) + ".json").read_text())
        for kind, n in sorted(r.get("errors", {}).items()):
            stats.error(kind, n)
    docs, groups, n_groups = _memberships(plan)
    decisions = _decide(docs, groups, n_groups, int(counts.sum()))
    members, labels = _components(docs, groups, n_groups)
    ids = _ids_of(plan, counts, members)
    order = np.lexsort((members, labels))  # by component, members in input order
    lines, several = [], 0
    bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True]) if len(members) else [0]
    for a, b in zip(list(bounds[:-1]), list(bounds[1:])):
        docs_c = members[order[a:b]].tolist()
        kept = [ids[d] for d in docs_c if decisions[d] < 0]
        removed = [[ids[d], ids[int(decisions[d])]] for d in docs_c if decisions[d] >= 0]
        several += len(kept) > 1
        lines.append((docs_c[0], {"cluster": ids[docs_c[0]], "documents": len(docs_c), "kept": kept,
                                  "removed": removed}))
    lines.sort(key=lambda x: x[0])  # clusters in the input order of their first document
    out_dir.mkdir(parents=True, exist_ok=True)
    save_npy(dec_file, decisions)
    with atomic_open(cl_file, "wb") as f:
        for _, obj in lines:
            f.write((json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
    removed_n = int((decisions >= 0).sum())
    stats.keep(len(decisions) - removed_n)
    stats.drop("near_duplicate", removed_n)
    stats.info.update(clusters=len(lines), documents_in_clusters=int(len(members)),
                      clusters_with_several_kept=several, parts=len(counts), bands=plan.bands)
    stats.finish()
    stats.write(out_dir / "stats.json", {"neardedup": plan.describe()})
    write_receipt(receipt, plan, [dec_file, cl_file], {"stats": {**stats.to_dict(), "elapsed_s": None,
                                                                 "versions": None}})
    return stats


def filter_part(plan: Plan, k: int, force: bool = False) -> StageStats:
    """Write the kept records of part ``k`` to ``out/part-k.jsonl`` (+ receipt with its accounting)."""
    out = plan.path("out", PART.format(k) + ".jsonl")
    receipt = plan.path("out", PART.format(k) + ".json")
    if not force and (r := receipt_ok(receipt, plan, out)):
        return StageStats.from_dict(r["stats"])
    dec_file = plan.work / "clusters" / "decisions.npy"
    if receipt_ok(plan.work / "clusters" / "receipt.json", plan, dec_file) is None:
        raise NearDedupError(f"no current cluster decisions under {plan.work}: run `neardedup clusters` first")
    clear_temps(out, receipt)
    counts = part_docs(plan)
    offset, n = int(counts[:k].sum()), int(counts[k])
    decisions = load_npy(dec_file, mmap=True)[offset: offset + n]
    stats = StageStats(f"neardedup-filter-{k:05d}", inputs=[plan.inputs[plan.parts[k]["file"]]])
    out.parent.mkdir(parents=True, exist_ok=True)
    i = 0
    with atomic_open(out, "wb") as f:
        for line, _ in iter_part(plan, k, stats):
            if i >= n:
                raise NearDedupError(f"part {k} has more records than when its signatures were made: the input "
                                     f"changed; rerun all stages (or use a fresh --work)")
            if decisions[i] < 0:
                f.write(line if line.endswith(b"\n") else line + b"\n")
                stats.keep()
            else:
                stats.drop("near_duplicate")
            i += 1
        if i != n:
            raise NearDedupError(f"part {k} has {i} records, its signatures {n}: the input changed; rerun all stages")
    d = stats.to_dict()
    d.update(elapsed_s=None, versions=None)  # no clocks: reruns give the same bytes
    write_receipt(receipt, plan, [out], {"part": k, "stats": d})
    return stats


def output_parts(plan: Plan) -> list:
    return [plan.path("out", PART.format(k) + ".jsonl") for k in range(len(plan.parts))]


def run_stage(plan: Plan, stage: str, task_index: int = 0, num_tasks: int = 1, force: bool = False) -> StageStats:
    """One stage for this array task (items dealt round-robin: part/band i -> task i % num_tasks)."""
    from data_prep.common.tasks import my_items

    total = StageStats(f"neardedup-{stage}", inputs=plan.inputs)
    if stage == "signatures":
        for k in my_items(range(len(plan.parts)), task_index, num_tasks):
            r = signatures(plan, k, force)
            total.add_info("docs", r["docs"])
    elif stage == "buckets":
        for b in my_items(range(plan.bands), task_index, num_tasks):
            r = buckets(plan, b, force)
            total.add_info("bucket_members", r["members"])
    elif stage == "clusters":
        return clusters(plan, force) if task_index == 0 else total.finish()
    elif stage == "filter":
        for k in my_items(range(len(plan.parts)), task_index, num_tasks):
            total.merge(filter_part(plan, k, force))
    else:
        raise NearDedupError(f"unknown stage {stage!r}: use signatures, buckets, clusters, filter or all")
    return total.finish()


def run_all(plan: Plan, force: bool = False) -> StageStats:
    """All four stages in this process (the laptop path); the result equals an array run's."""
    for stage in ("signatures", "buckets", "clusters"):
        run_stage(plan, stage, force=force)
    stats = run_stage(plan, "filter", force=force)  # its accounting covers every line (bad ones as errors)
    stats.stage = "neardedup"
    return stats
