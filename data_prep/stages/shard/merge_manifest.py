"""``merge-manifest``: join the shard receipts of a split into its ``manifest.json`` and ``stats.json``.

Run once after all array tasks of ``shard`` finished (a single-process
``shard`` run calls it itself).  The manifest is written last and atomically;
it lists shards sorted by name, so it is identical whichever tasks wrote which
shards.  ``versions`` are those of the process writing the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

from biomamba.data.format import MANIFEST, SHARD_TEMPLATE, new_manifest
from biomamba.io import atomic_write_json, package_versions, sha256_file
from data_prep.stages.shard.shard import RECEIPTS
from data_prep.stages.split.split import PARTS_INDEX
from data_prep.common.stats import StageStats


class MergeError(RuntimeError):
    pass


def merge_split(split_dir: str | Path, verify: bool = False) -> tuple[dict, StageStats]:
    split_dir = Path(split_dir)
    receipts = sorted((split_dir / RECEIPTS).glob("shard-*.json"))
    if not receipts:
        raise MergeError(f"{split_dir}: no shard receipts; run `python -m data_prep shard` first")
    loaded = [json.loads(p.read_text()) for p in receipts]
    counts = {r["part_count"] for r in loaded}
    hashes = {r["tokenizer"]["hash"] for r in loaded}
    if len(counts) != 1 or len(hashes) != 1:
        raise MergeError(f"{split_dir}: receipts come from different runs (part counts {sorted(counts)}, "
                         f"tokenizers {sorted(hashes)}); delete the split's shards and rerun `shard`")
    expected = {SHARD_TEMPLATE.format(i) for i in range(counts.pop())}
    have = {r["shard"]["name"] for r in loaded}
    missing = sorted(expected - have)
    if missing:
        raise MergeError(f"{split_dir}: {len(missing)} shard(s) not finished yet: {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''}; rerun the failed `shard` array tasks")
    stale = sorted(have - expected)
    if stale:
        raise MergeError(f"{split_dir}: receipts for shards {stale[:10]} that are not in the current split; "
                         "delete them (they come from an earlier run with more parts)")
    for r in loaded:
        path = split_dir / r["shard"]["name"]
        if not path.is_file() or path.stat().st_size != r["shard"]["size"]:
            raise MergeError(f"{path}: missing or of the wrong size; rerun `shard` to rewrite it")
        if verify and sha256_file(path) != r["shard"]["sha256"]:
            raise MergeError(f"{path}: sha256 differs from its receipt; rerun `shard` to rewrite it")
    first = loaded[0]
    try:  # the split's record of removed evaluation sets, carried into the manifest (optional key)
        decontamination = json.loads((Path(first["input_dir"]) / PARTS_INDEX).read_text()).get("decontamination")
    except (OSError, ValueError):
        decontamination = None
    manifest = new_manifest(
        first["split"], [r["shard"] for r in loaded], vocab_size=first["vocab_size"], eos_id=first["eos_id"],
        tokenizer=first["tokenizer"],
        config={"input": first["input_dir"], "parts": len(loaded),
                "document_framing": "tokens + one EOS, no BOS"},
        versions=package_versions(), decontamination=decontamination,
    )
    stats = StageStats("shard", inputs=[str(split_dir)])
    for r in loaded:
        stats.merge(StageStats.from_dict(r["stats"]))
    stats.stage = f"shard/{first['split']}"
    stats.inputs = [r["part"] for r in loaded]
    stats.info["tokens"] = manifest["totals"]["tokens"]
    stats.write(split_dir / "stats.json", {"tokenizer": first["tokenizer"]})
    atomic_write_json(split_dir / MANIFEST, manifest)
    return manifest, stats


def merge_manifests(out_dir: str | Path, splits: list[str] | None = None, verify: bool = False) -> dict[str, dict]:
    out_dir = Path(out_dir)
    if not splits:
        splits = sorted(p.name for p in out_dir.iterdir() if (p / RECEIPTS).is_dir())
    if not splits:
        raise MergeError(f"{out_dir}: no split folders with shard receipts")
    return {s: merge_split(out_dir / s, verify=verify)[0] for s in splits}
