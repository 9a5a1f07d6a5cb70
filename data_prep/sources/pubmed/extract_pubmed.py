"""``extract pubmed``: PubMed XML(.gz) files -> records, in one go or per file for array jobs.

* ``--out OUT.jsonl``: every file is extracted into ``OUT.parts/`` and the
  parts are resolved (updates, deletions, versions) in command-line order
  into ``OUT.jsonl`` (+ ``OUT.stats.json``).
* ``--out DIR``: only the parts of this task's files are written to ``DIR``
  (file *i* -> task ``i % num_tasks``); afterwards run
  ``resolve DIR --out OUT.jsonl`` once.  Both paths produce identical output.
"""

from __future__ import annotations

import logging
from pathlib import Path

from data_prep.config import PubmedConfig
from data_prep.common.progress import Progress
from data_prep.sources.pubmed.pubmed_part import extract_part, part_stem
from data_prep.stages.resolve import resolve
from data_prep.common.stats import StageStats
from data_prep.common.tasks import TaskError, my_items, natural_key

log = logging.getLogger("data_prep")
INPUT_SUFFIXES = (".xml.gz", ".xml")


def expand_inputs(inputs: list[str | Path], suffixes: tuple[str, ...] = INPUT_SUFFIXES) -> list[Path]:
    """Files as given; a directory contributes its matching files in natural name order."""
    out: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            out.extend(sorted((q for q in p.iterdir() if q.name.endswith(suffixes)), key=lambda q: natural_key(q.name)))
        else:
            out.append(p)
    return out


def check_unique_stems(files: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for f in files:
        stem = part_stem(f)
        if stem in seen and seen[stem] != f:
            raise TaskError(f"{f} and {seen[stem]} would write the same part {stem!r}; rename one of them")
        seen[stem] = f


def parts_dir_for(out_jsonl: Path) -> Path:
    return out_jsonl.with_name(out_jsonl.name[: -len(".jsonl")] + ".parts")


def extract_parts(files: list[Path], part_dir: Path, cfg: PubmedConfig, force: bool = False) -> StageStats:
    total = StageStats("extract-pubmed", inputs=[str(f) for f in files])
    with Progress("extract pubmed", unit="citations") as bar:
        for f in files:
            s = extract_part(f, part_dir, cfg, force=force, progress=bar)
            if s.failed_inputs:
                log.error("cannot extract %s: %s", f, "; ".join(s.failed_inputs.values()))
            total.merge(s)
    total.inputs = [str(f) for f in files]
    return total.finish()


def extract_pubmed(inputs: list[str | Path], out: str | Path, cfg: PubmedConfig, *, task_index: int = 0,
                   num_tasks: int = 1, force: bool = False) -> StageStats:
    """Run the command; returns the stats that were written (``failed_inputs`` -> exit 1)."""
    files = expand_inputs(inputs)
    if not files:
        raise TaskError("extract pubmed: no input files given")
    check_unique_stems(files)
    out = Path(out)
    if out.name.endswith(".jsonl"):
        if num_tasks != 1:
            raise TaskError("--task-index/--num-tasks need a parts directory as --out (not a .jsonl file); "
                            "run `resolve` on that directory afterwards")
        part_dir = parts_dir_for(out)
        ext = extract_parts(files, part_dir, cfg, force=force)
        present = [part_dir / f"{part_stem(f)}.stats.json" for f in files]
        present = [p for p in present if p.is_file()]
        if not present:
            ext.write(out.with_name(out.name[: -len(".jsonl")] + ".stats.json"), {"pubmed": cfg.to_dict()})
            return ext
        with Progress("resolve", unit="records") as bar:
            stats = resolve(present, out, progress=bar)
        stats.stage = "extract-pubmed"
        stats.elapsed_s = round((ext.elapsed_s or 0) + (stats.elapsed_s or 0), 3)
        stats.failed_inputs.update(ext.failed_inputs)
        stats.inputs = [str(f) for f in files]
        stats.write(out.with_name(out.name[: -len(".jsonl")] + ".stats.json"), {"pubmed": cfg.to_dict()})
        return stats
    mine = my_items(files, task_index, num_tasks)
    log.info("task %d/%d: %d of %d files", task_index, num_tasks, len(mine), len(files))
    stats = extract_parts(mine, out, cfg, force=force)
    stats.info["task"] = f"{task_index}/{num_tasks}"
    out.mkdir(parents=True, exist_ok=True)
    stats.write(out / f"task-{task_index:05d}-of-{num_tasks:05d}.summary.json", {"pubmed": cfg.to_dict()})
    return stats
