"""Evaluation documents to keep out of pretraining: PMID lists, BioASQ and PubMedQA files.

* ``--exclude-pmids FILE``: one id per line (``12345``, ``pmid:12345``,
  ``PMC123``/``pmc:PMC123``); blank lines and ``#`` comments ignored.  A JSON
  file given here is read by the matching reader below (auto-detected).
* BioASQ JSON: ``{"questions": [{"documents": [".../pubmed/12345", ...],  (or pubmed.ncbi.nlm.nih.gov/12345)
  "snippets": [{"document": ".../pubmed/12345"}, ...]}]}``.
* PubMedQA JSON: an object keyed by PMID (``ori_pqal.json``,
  ``test_ground_truth.json``) or a list of objects with ``pubid``/``pmid``.

Decontamination is on by default: :data:`SHIPPED_EVAL_SETS` (the evaluation sets this project
ships) are excluded unless ``split.exclude_shipped: false``, on top of the files the user names.
:meth:`Exclusions.record` is what each split's ``parts.json`` and shard ``manifest.json`` keep
(``decontamination``): every set with its kind, file, sha256 and id count, the excluded ids, and
how many documents were removed -- ``launcher/evaluate.py`` reads it to tell clean metrics from
contaminated ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from biomamba.io import sha256_file

_PMID_URL = re.compile(r"(?:/pubmed/|pubmed\.ncbi\.nlm\.nih\.gov/)(\d+)")
_PMC = re.compile(r"^(?:pmc:)?PMC(\d+)$", re.I)
_PMID = re.compile(r"^(?:pmid:)?(\d+)$", re.I)


_RESOURCES = Path(__file__).resolve().parents[3] / "biomamba" / "resources" / "sample"
# Evaluation sets the project ships, by kind: excluded from every split unless split.exclude_shipped is false.
SHIPPED_EVAL_SETS = {"bioasq": [str(_RESOURCES / "bioasq_sample.json")], "pubmedqa": [], "pmids": []}
RECORD_VERSION = 1


class ExclusionFileError(ValueError):
    pass


@dataclass
class Exclusions:
    pmids: set[str] = field(default_factory=set)
    pmcids: set[str] = field(default_factory=set)
    sources: dict[str, int] = field(default_factory=dict)  # file -> number of ids read
    sets: list[dict] = field(default_factory=list)  # {"kind", "path", "name", "sha256", "ids"} per file

    def matches(self, rec: dict) -> bool:
        return (rec.get("pmid") is not None and str(rec["pmid"]) in self.pmids) or (
            rec.get("pmcid") is not None and rec["pmcid"] in self.pmcids)

    def __len__(self) -> int:
        return len(self.pmids) + len(self.pmcids)

    def _add(self, kind: str, path, pmids: set[str], pmcids: set[str] = frozenset()) -> None:
        self.pmids |= pmids
        self.pmcids |= pmcids
        self.sources[str(path)] = len(pmids) + len(pmcids)
        self.sets.append({"kind": kind, "path": str(Path(path).resolve()), "name": Path(path).name,
                          "sha256": sha256_file(path), "ids": len(pmids) + len(pmcids)})

    def record(self, removed_ids: list[str]) -> dict:
        """The ``decontamination`` entry of one split: which sets were removed, their ids, what was dropped."""
        return {"version": RECORD_VERSION, "sets": self.sets,
                "pmids": sorted(self.pmids, key=int), "pmcids": sorted(self.pmcids),
                "removed_documents": len(removed_ids), "removed_ids": sorted(removed_ids)}


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExclusionFileError(f"{path}: cannot read JSON ({exc})") from exc


def bioasq_pmids(path: str | Path) -> set[str]:
    data = _load_json(Path(path))
    questions = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(questions, list):
        raise ExclusionFileError(f"{path}: not BioASQ JSON (expected a top-level 'questions' list)")
    found: set[str] = set()
    for q in questions:
        urls = list(q.get("documents") or [])
        urls += [s.get("document", "") for s in q.get("snippets") or [] if isinstance(s, dict)]
        for u in urls:
            m = _PMID_URL.search(str(u))
            if m:
                found.add(str(int(m.group(1))))
    return found


def pubmedqa_pmids(path: str | Path) -> set[str]:
    data = _load_json(Path(path))
    if isinstance(data, dict):
        ids = [k for k in data if str(k).isdigit()]
        if not ids and data:
            raise ExclusionFileError(f"{path}: not PubMedQA JSON (object keys should be PMIDs)")
        return {str(int(k)) for k in ids}
    if isinstance(data, list):
        out = set()
        for item in data:
            pid = item.get("pubid", item.get("pmid")) if isinstance(item, dict) else None
            if pid is not None and str(pid).isdigit():
                out.add(str(int(pid)))
        return out
    raise ExclusionFileError(f"{path}: not PubMedQA JSON")


def id_list(path: str | Path) -> tuple[set[str], set[str]]:
    """``(pmids, pmcids)`` from a plain id list, or from BioASQ/PubMedQA JSON (auto-detected)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExclusionFileError(f"{path}: cannot read exclusion list ({exc.strerror or exc})") from exc
    if text.lstrip().startswith(("{", "[")):
        data = json.loads(text)
        if isinstance(data, dict) and "questions" in data:
            return bioasq_pmids(path), set()
        return pubmedqa_pmids(path), set()
    pmids, pmcids = set(), set()
    for n, line in enumerate(text.splitlines(), 1):
        token = line.split("#", 1)[0].strip().split(",")[0].split("\t")[0].strip()
        if not token:
            continue
        if m := _PMC.match(token):
            pmcids.add(f"PMC{int(m.group(1))}")
        elif m := _PMID.match(token):
            pmids.add(str(int(m.group(1))))
        else:
            raise ExclusionFileError(f"{path}:{n}: {token!r} is neither a PMID nor a PMC id")
    return pmids, pmcids


def load_exclusions(pmid_files=(), bioasq_files=(), pubmedqa_files=()) -> Exclusions:
    ex = Exclusions()
    for f in dict.fromkeys(map(str, pmid_files)):
        pmids, pmcids = id_list(f)
        ex._add("pmids", f, pmids, pmcids)
    for f in dict.fromkeys(map(str, bioasq_files)):
        ex._add("bioasq", f, bioasq_pmids(f))
    for f in dict.fromkeys(map(str, pubmedqa_files)):
        ex._add("pubmedqa", f, pubmedqa_pmids(f))
    return ex
