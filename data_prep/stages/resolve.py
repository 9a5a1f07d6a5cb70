"""Apply NLM's update semantics across per-file parts: deletions, revisions, versions.

Files are taken in order (baseline first, then update files by number).  Rules:

* A ``DeleteCitation`` in file *k* removes that PMID's citations from files
  1..*k* (NLM puts deletions after the file's citations); a citation in a later
  file brings the PMID back.
* Among the remaining citations of a PMID the one from the latest file wins,
  and within that file the highest ``PMID Version`` (then the last occurrence).
* The winner's own filter status decides: if the newest version is retracted
  or non-English, the PMID is dropped even though an older version was fine.

Only the compact index (``pmid, version, status`` per citation) is held in
memory — with the sort's temporaries about 40 bytes a citation, ~2 GB for a
full baseline plus a year of updates —
and the kept records are then streamed from the parts, so the output is in
(file, position) order and byte-identical however the parts were produced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from data_prep.common.jsonl import AtomicJsonlWriter, iter_lines, remove_stale_temps
from data_prep.sources.pubmed.pubmed_part import INDEX_STATUS, part_files, part_stem
from data_prep.common.stats import StageStats
from data_prep.common.tasks import natural_key


class ResolveError(RuntimeError):
    pass


def find_parts(paths: list[str | Path]) -> list[Path]:
    """Part stats files for the given part directories / part files, in resolve order.

    A directory contributes all its parts in natural file-name order (NLM's
    numbering puts baseline before updates); explicit files keep command-line order.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.stats.json"), key=lambda x: natural_key(x.name))
            out.extend(found)
        else:
            stem = part_stem(p.name.replace(".stats.json", "").replace(".jsonl", ""))
            out.append(part_files(p.parent, stem)["stats"])
    return out


def _load_part(stats_path: Path) -> tuple[dict, np.ndarray, np.ndarray, Path]:
    stem = stats_path.name[: -len(".stats.json")]
    files = part_files(stats_path.parent, stem)
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise ResolveError(f"part {stem} is incomplete (missing {missing}); rerun `extract pubmed` for its file")
    stats = json.loads(stats_path.read_text())
    status_names = stats.get("info", {}).get("index_status")
    if status_names != list(INDEX_STATUS)[: len(status_names or [])]:
        raise ResolveError(f"{stats_path}: index status codes {status_names} differ from this version's {INDEX_STATUS}")
    index = np.load(files["index"], allow_pickle=False)
    deleted = np.load(files["deleted"], allow_pickle=False)
    return stats, index, deleted, files["jsonl"]


def _winners(indexes: list[np.ndarray], deletions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``winner`` and ``deleted`` masks over the concatenated index."""
    n = [len(ix) for ix in indexes]
    pmid = np.concatenate([ix["pmid"] for ix in indexes]) if indexes else np.zeros(0, "<i8")
    version = np.concatenate([ix["version"] for ix in indexes]) if indexes else np.zeros(0, "<i4")
    file_no = np.repeat(np.arange(len(indexes), dtype=np.int32), n)
    row = np.concatenate([np.arange(k, dtype=np.int64) for k in n]) if indexes else np.zeros(0, np.int64)

    deleted = np.zeros(len(pmid), dtype=bool)
    if deletions and sum(len(d) for d in deletions):
        dp = np.concatenate(deletions)
        df = np.repeat(np.arange(len(deletions), dtype=np.int32), [len(d) for d in deletions])
        order = np.lexsort((df, dp))  # by pmid, then file: keep the last (latest) deletion per PMID
        dp, df = dp[order], df[order]
        last = np.r_[dp[1:] != dp[:-1], True]
        dp, df = dp[last], df[last]
        pos = np.searchsorted(dp, pmid)
        pos_c = np.minimum(pos, len(dp) - 1)
        deleted = (dp[pos_c] == pmid) & (df[pos_c] >= file_no)

    winner = np.zeros(len(pmid), dtype=bool)
    alive = np.flatnonzero(~deleted)
    if len(alive):
        order = alive[np.lexsort((row[alive], version[alive], file_no[alive], pmid[alive]))]
        p = pmid[order]
        is_last = np.r_[p[1:] != p[:-1], True]
        winner[order[is_last]] = True
    return winner, deleted


def resolve(parts: list[str | Path], out: str | Path, progress=None) -> StageStats:
    """Resolve ``parts`` (see :func:`find_parts`) into one JSONL file at ``out``."""
    out = Path(out)
    stats_paths = find_parts(parts)
    if not stats_paths:
        raise ResolveError(f"no extracted parts found in {[str(p) for p in parts]}; run `extract pubmed` first")
    loaded = [_load_part(p) for p in stats_paths]
    winner, deleted = _winners([ix for _, ix, _, _ in loaded], [d for _, _, d, _ in loaded])

    stats = StageStats("resolve", inputs=[str(p) for p in stats_paths])
    for part_stats, _, _, _ in loaded:
        s = StageStats.from_dict(part_stats)
        stats.errors.update(s.errors)
        stats.seen += sum(s.errors.values())
        stats.failed_inputs.update(s.failed_inputs)
        unindexed = {k: v for k, v in s.dropped.items() if k not in INDEX_STATUS}
        for reason, count in unindexed.items():
            stats.drop(reason, count)
        stats.add_info("deletions_listed", int(s.info.get("deletions", 0)))

    remove_stale_temps(out)
    writer = AtomicJsonlWriter(out)
    offset = 0
    try:
        for _, index, _, jsonl in loaded:
            n = len(index)
            win, dele = winner[offset: offset + n], deleted[offset: offset + n]
            status = index["status"]
            for code, name in enumerate(INDEX_STATUS[1:], start=1):
                # dropped by a filter: counted under that reason only when it is the final version
                stats.drop(name, int(((status == code) & win).sum()))
            stats.drop("deleted", int(dele.sum()))
            stats.drop("superseded", int((~win & ~dele).sum()))
            kept_rows = np.flatnonzero(status == 0)
            keep_line = win[kept_rows]
            lines = 0
            for line_no, line in enumerate(iter_lines(jsonl)):
                if line_no < len(keep_line) and keep_line[line_no]:
                    writer.write_line(line)
                    stats.keep()
                lines += 1
                if progress is not None:
                    progress.update()
            if lines != len(kept_rows):
                raise ResolveError(f"{jsonl}: {lines} records but its index lists {len(kept_rows)}; "
                                   "the part is corrupt, delete it and rerun `extract pubmed` for its file")
            offset += n
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    stats.info["output_sha256"] = writer.sha256
    return stats.finish()
