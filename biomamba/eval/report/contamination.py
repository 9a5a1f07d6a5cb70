"""Was an evaluation set removed from a model's training data?  Read from the data's shard manifests.

An evaluation set counts as *removed* from one training dataset when that dataset's manifest has a
``decontamination`` record (data_prep/stages/split/decontam.py) that lists the same file (sha256) or whose
excluded PMIDs cover every PMID the evaluation file references.  Per model and set the status is

* ``clean`` -- removed from every training dataset;
* ``contaminated`` -- some training dataset's manifest was found and does not record removing it
  (including manifests written before the record existed: nothing says it was removed);
* fine-tuning (BioASQ) counts too: evaluation questions that are in a fine-tuning ``train_json`` of
  the model's lineage and not in its ``exclude_json`` make the BioASQ set ``contaminated``;
* ``unknown`` -- the model carries no training record, or its data manifests are gone (e.g. a
  general-domain checkpoint from elsewhere); the report says so instead of calling it clean.

Metrics on a contaminated set are marked in report.json (``contaminated: true``) and printed as
contaminated in report.md and report.png, never as a clean number.  Held-out text sets
(``--heldout``) are not judged here: they are read as given.
"""

from __future__ import annotations

from pathlib import Path

from biomamba.io import sha256_file

CLEAN, CONTAMINATED, UNKNOWN = "clean", "contaminated", "unknown"


def evaluation_sets(args) -> dict[str, dict]:
    """``{set: {"files", "pmids", "prefixes"}}`` of the sets this evaluation scores (BioASQ, PubMedQA)."""
    from data_prep.stages.split.decontam import ExclusionFileError, bioasq_pmids, pubmedqa_pmids

    sets = {}
    if args.bioasq_gold:
        try:
            pmids = bioasq_pmids(args.bioasq_gold)
        except ExclusionFileError:
            pmids = set()
        sets["bioasq"] = {"files": [args.bioasq_gold], "pmids": pmids, "questions": _question_ids(args.bioasq_gold),
                          "prefixes": ("bioasq.", "lm.bioasq_snippets.", "lm.bioasq_ideal_answers.")}
    if "pubmedqa" in args.tasks and args.pubmedqa_ground_truth:
        try:
            pmids = pubmedqa_pmids(args.pubmedqa_ground_truth)
        except ExclusionFileError:
            pmids = set()
        sets["pubmedqa"] = {"files": [args.pubmedqa_ground_truth, args.pubmedqa_data], "pmids": pmids,
                            "prefixes": ("pubmedqa.",)}
    for s in sets.values():
        s["sha256"] = {sha256_file(f) for f in s["files"] if f and Path(f).is_file()}
    return sets


def _question_ids(path) -> set[str] | None:
    import json

    try:
        return {str(q["id"]) for q in json.loads(Path(path).read_text())["questions"] if "id" in q}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _finetune_overlap(eval_set: dict, finetune: list[dict]) -> tuple[str, str] | None:
    """(status, reason) when fine-tuning saw evaluation questions, or could not be checked."""
    asked = eval_set.get("questions")
    if not asked:
        return None
    for ft in finetune:
        trained = _question_ids(ft["train_json"])
        if trained is None:
            return UNKNOWN, f"fine-tuning set {ft['train_json']} not found"
        excluded = set().union(*[_question_ids(f) or set() for f in ft["exclude_json"]])
        seen = (asked & trained) - excluded
        if seen:
            return CONTAMINATED, f"{len(seen)} evaluation questions are in the fine-tuning set {ft['train_json']}"
    return None


def _removed(record: dict, eval_set: dict) -> bool:
    if eval_set["sha256"] & {s.get("sha256") for s in record.get("sets", [])}:
        return True
    return bool(eval_set["pmids"]) and eval_set["pmids"] <= set(map(str, record.get("pmids", [])))


def status(manifests: list[tuple[str, dict | None]], eval_set: dict, finetune: list[dict] = ()) -> tuple[str, str]:
    """(status, reason) of one evaluation set for a model pretrained on ``manifests``, fine-tuned on ``finetune``."""
    tuned = _finetune_overlap(eval_set, list(finetune))
    if tuned is not None and tuned[0] == CONTAMINATED:
        return tuned
    found = [(path, m) for path, m in manifests if m is not None]
    if not found:
        why = ("no record of the pretraining data" if not manifests
               else f"training data manifest not found ({manifests[0][0]})")
        return UNKNOWN, why
    for path, m in found:
        record = m.get("decontamination")
        if record is None:
            return CONTAMINATED, f"{path}: manifest records no decontamination"
        if not _removed(record, eval_set):
            return CONTAMINATED, f"{path}: this set was not removed"
    if tuned is not None:
        return tuned
    return CLEAN, (f"removed from {', '.join(path for path, _ in found)} (listed by the split's exclusion record; "
                   f"{len(eval_set['pmids'])} PMIDs referenced)")


def contamination(manifests: list[tuple[str, dict | None]], sets: dict[str, dict],
                  finetune: list[dict] = ()) -> dict[str, dict]:
    """``{set: {"status", "reason", "prefixes"}}`` for one model."""
    out = {}
    for name, s in sets.items():
        st, why = status(manifests, s, finetune)
        out[name] = {"status": st, "reason": why, "prefixes": list(s["prefixes"])}
    return out


def is_contaminated(metric: str, per_set: dict[str, dict]) -> bool:
    return any(v["status"] == CONTAMINATED and metric.startswith(tuple(v["prefixes"])) for v in per_set.values())
