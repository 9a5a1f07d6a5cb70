"""``run``: the whole chain from one config, skipping stages whose outputs are up to date.

Layout under ``out_dir``::

    config.yaml, versions.json       what produced this folder
    download/<kind>/                 (download.enabled) NLM files + .md5
    extract/pubmed.jsonl (+ .parts/) extract/pmc.jsonl
    clean/corpus.jsonl
    split/<split>/part-*.jsonl, parts.json
    tokenizer/tokenizer.model, hf/   (unless tokenizer.path is given)
    shards/<split>/shard-*.tar, manifest.json, stats.json

A stage is skipped when its ``stats.json`` records the same fingerprint (its
settings + the fingerprints of its inputs) and no failed inputs; ``--force``
reruns everything.  The shard stage always runs but skips finished shards.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

from biomamba.io import atomic_write_bytes, atomic_write_json, package_versions
from data_prep.config import PrepConfig, fingerprint
from data_prep.common.stats import StageStats

log = logging.getLogger("data_prep")


def file_signature(paths: list[Path]) -> list:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([str(p), None, None])
    return out


class Chain:
    def __init__(self, cfg: PrepConfig, force: bool):
        self.cfg, self.force = cfg, force
        self.out = Path(cfg.out_dir)
        self.results: list[StageStats] = []

    def stage(self, name: str, stats_path: Path, fp: str, fn: Callable[[], StageStats], config: dict) -> StageStats:
        if not self.force and stats_path.is_file():
            old = json.loads(stats_path.read_text())
            if old.get("config", {}).get("fingerprint") == fp and not old.get("failed_inputs"):
                log.info("%s: up to date (%s)", name, stats_path)
                stats = StageStats.from_dict(old)
                stats.info["skipped"] = 1
                self.results.append(stats)
                return stats
        log.info("%s: running", name)
        stats = fn()
        stats.stage = name
        stats.write(stats_path, {"fingerprint": fp, **config})
        self.results.append(stats)
        return stats

    def summary(self) -> None:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"data_prep run -> {self.out}")
        for col in ("stage", "seen", "kept", "dropped", "errors", "failed inputs", "time"):
            t.add_column(col, justify="left" if col == "stage" else "right")
        for s in self.results:
            t.add_row(s.stage + (" (up to date)" if s.info.get("skipped") else ""), f"{s.seen:,}", f"{s.kept:,}",
                      f"{sum(s.dropped.values()):,}", f"{sum(s.errors.values()):,}", str(len(s.failed_inputs)),
                      f"{s.elapsed_s or 0:.1f} s")
        Console(stderr=True).print(t)


def run_pipeline(cfg: PrepConfig, force: bool = False) -> int:
    from data_prep.stages.clean.clean import clean
    from data_prep.stages.split.decontam import load_exclusions
    from data_prep.sources.download import download_pubmed
    from data_prep.sources.pmc.extract_pmc import extract_pmc
    from data_prep.sources.pubmed.extract_pubmed import expand_inputs, extract_pubmed
    from data_prep.common.http_fetch import FetchPolicy
    from data_prep.stages.split.split import split

    chain = Chain(cfg, force)
    out = chain.out
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "config.yaml", cfg.to_yaml().encode())
    atomic_write_json(out / "versions.json", package_versions())

    pubmed_inputs = expand_inputs(cfg.pubmed.inputs)
    if cfg.download.enabled:
        d = cfg.download
        dl_dir = out / "download" / d.kind
        policy = FetchPolicy(retries=d.retries, timeout_s=d.timeout_s)
        chain.stage("download", dl_dir / "stats.json", fingerprint(["download", d.to_dict()]),
                    lambda: download_pubmed(dl_dir, d.kind, d.base_url, d.limit, policy), {"download": d.to_dict()})
        pubmed_inputs += expand_inputs([dl_dir])

    records: list[Path] = []
    fps: list[str] = []
    if pubmed_inputs:
        target = out / "extract" / "pubmed.jsonl"
        fp = fingerprint(["pubmed", cfg.pubmed.rules(), file_signature(pubmed_inputs)])
        chain.stage("extract-pubmed", target.with_name("pubmed.stats.json"), fp,
                    lambda: extract_pubmed(pubmed_inputs, target, cfg.pubmed), {"pubmed": cfg.pubmed.to_dict()})
        records.append(target)
        fps.append(fp)
    if cfg.pmc.inputs:
        target = out / "extract" / "pmc.jsonl"
        fp = fingerprint(["pmc", cfg.pmc.to_dict(), file_signature([Path(p) for p in cfg.pmc.inputs])])
        chain.stage("extract-pmc", target.with_name("pmc.stats.json"), fp,
                    lambda: extract_pmc(cfg.pmc.inputs, target, cfg.pmc), {"pmc": cfg.pmc.to_dict()})
        records.append(target)
        fps.append(fp)

    corpus = out / "clean" / "corpus.jsonl"
    fp = fingerprint(["clean", cfg.clean.to_dict(), fps])
    chain.stage("clean", corpus.with_name("corpus.stats.json"), fp, lambda: clean(records, corpus, cfg.clean),
                {"clean": cfg.clean.to_dict()})

    split_dir = out / "split"
    exclusion_files = cfg.split.exclusion_files()
    fp = fingerprint(["split", cfg.split.to_dict(), fp,
                      file_signature([Path(p) for files in exclusion_files.values() for p in files])])
    exclusions = load_exclusions(**exclusion_files)
    chain.stage("split", split_dir / "stats.json", fp, lambda: split([corpus], split_dir, cfg.split, exclusions),
                {"split": cfg.split.to_dict()})

    tokenizer_path = _tokenizer(chain, split_dir, fp)
    code = _shards(chain, split_dir, tokenizer_path)
    chain.summary()
    failed = any(s.failed_inputs for s in chain.results)
    return 1 if failed else code


def _tokenizer(chain: Chain, split_dir: Path, split_fp: str) -> Path:
    from data_prep.stages.tokenizer.train_tokenizer import MODEL_NAME, train_tokenizer

    tcfg = chain.cfg.tokenizer
    if tcfg.path:
        return Path(tcfg.path)
    tok_dir = chain.out / "tokenizer"
    train_dirs = [split_dir / "train"] if "train" in chain.cfg.split.fractions else [split_dir / next(iter(chain.cfg.split.fractions))]
    fp = fingerprint(["tokenizer", tcfg.to_dict(), split_fp])
    if not (tok_dir / MODEL_NAME).is_file():
        (tok_dir / "stats.json").unlink(missing_ok=True)
    chain.stage("train-tokenizer", tok_dir / "stats.json", fp, lambda: train_tokenizer(train_dirs, tok_dir, tcfg),
                {"tokenizer": tcfg.to_dict()})
    return tok_dir / MODEL_NAME


def _shards(chain: Chain, split_dir: Path, tokenizer_path: Path) -> int:
    from biomamba.tokenizer import load_tokenizer
    from data_prep.stages.shard.merge_manifest import merge_manifests
    from data_prep.stages.shard.shard import shard

    scfg = chain.cfg.shard
    splits = scfg.splits or list(chain.cfg.split.fractions)
    tok = load_tokenizer(tokenizer_path)
    shard_dir = chain.out / "shards"
    stats, touched = shard(split_dir, tok, shard_dir, scfg, splits)
    stats.stage = "shard"
    stats.write(shard_dir / "stats.json", {"shard": scfg.to_dict(), "tokenizer": tok.describe()})
    chain.results.append(stats)
    manifests = merge_manifests(shard_dir, touched)
    for name, m in manifests.items():
        log.info("%s: %s documents, %s tokens in %d shard(s) -> %s", name, f"{m['totals']['documents']:,}",
                 f"{m['totals']['tokens']:,}", m["totals"]["shards"], shard_dir / name / "manifest.json")
    return 0
