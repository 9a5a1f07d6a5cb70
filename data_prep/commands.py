"""Handlers of the subcommands: build the stage config from its flags (:func:`biomamba.config.cli.from_flags`),
run it, write stats, print the summary."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from biomamba.config import ConfigError
from biomamba.config.cli import from_flags
from data_prep.config import CleanConfig, PmcConfig, PubmedConfig, ShardConfig, SplitConfig, TokenizerConfig
from data_prep.sources.download import PMC_BASE, PMC_META_TEMPLATE, PMC_XML_TEMPLATE  # noqa: F401 (cli defaults)
from data_prep.common.stats import StageStats
from data_prep.common.tasks import TaskError, task_from_env

log = logging.getLogger("data_prep")


class UsageError(ValueError):
    """Bad flags or configuration (exit code 2)."""


def stats_path_for(out: Path) -> Path:
    """``OUT.jsonl`` -> ``OUT.stats.json``."""
    return out.with_name(out.name[: -len(".jsonl")] + ".stats.json") if out.name.endswith(".jsonl") else out / "stats.json"


def finish(stats: StageStats, path: Path | None = None, config: dict | None = None) -> int:
    """Write (optional) and print the stats; exit code 1 when an input failed."""
    if path is not None:
        stats.write(path, config)
    stats.print_summary()
    for p, reason in stats.failed_inputs.items():
        log.error("input failed: %s (%s)", p, reason)
    return 1 if stats.failed_inputs or stats.info.get("failures") else 0


def _checked(cls, args, **values):
    """``cls`` from the subcommand's flags (plus ``values``), validated; a bad value is a usage error."""
    try:
        return from_flags(cls, args, **values).validate()
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _tasks(args) -> tuple[int, int]:
    try:
        return task_from_env(args.task_index, args.num_tasks)
    except TaskError as exc:
        raise UsageError(str(exc)) from exc


def cmd_download(args) -> int:
    from data_prep.sources.download import download_pmc, download_pubmed
    from data_prep.common.http_fetch import FetchError, FetchPolicy

    policy = FetchPolicy(retries=args.retries)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.source == "pubmed":
            stats = download_pubmed(out, args.kind, args.base_url, args.limit, policy)
            name = f"download-{args.kind}.stats.json"
        else:
            stats = download_pmc(out, args.ids, args.subset, args.base_url, args.limit, args.xml_template,
                                 args.meta_template, policy)
            name = "download-pmc.stats.json"
    except FetchError as exc:
        log.error("%s", exc)
        return 1
    code = finish(stats, out / name, {"args": {k: v for k, v in vars(args).items() if k != "func"}})
    return 1 if stats.errors else code


def cmd_extract(args) -> int:
    out = Path(args.out)
    if args.source == "pubmed":
        from data_prep.sources.pubmed.extract_pubmed import extract_pubmed

        cfg = _checked(PubmedConfig, args)
        if out.name.endswith(".jsonl"):
            if (args.num_tasks or 1) != 1 or (args.task_index or 0) != 0:
                raise UsageError("--task-index/--num-tasks need a parts folder as --out (not a .jsonl file); "
                                 "run `resolve` on that folder afterwards")
            task_index, num_tasks = 0, 1  # Slurm variables are ignored: this mode resolves all files itself
        else:
            task_index, num_tasks = _tasks(args)
        try:
            stats = extract_pubmed(args.inputs, out, cfg, task_index=task_index, num_tasks=num_tasks, force=args.force)
        except TaskError as exc:
            raise UsageError(str(exc)) from exc
        return finish(stats)
    from data_prep.sources.pmc.extract_pmc import extract_pmc

    if not out.name.endswith(".jsonl"):
        raise UsageError(f"--out must be a .jsonl file, got {out}")
    cfg = _checked(PmcConfig, args)
    return finish(extract_pmc(args.inputs, out, cfg))


def cmd_resolve(args) -> int:
    from data_prep.common.progress import Progress
    from data_prep.stages.resolve import ResolveError, resolve

    out = Path(args.out)
    if not out.name.endswith(".jsonl"):
        raise UsageError(f"--out must be a .jsonl file, got {out}")
    try:
        with Progress("resolve", unit="records") as bar:
            stats = resolve(args.parts, out, progress=bar)
    except ResolveError as exc:
        raise UsageError(str(exc)) from exc
    return finish(stats, stats_path_for(out), {"parts": args.parts})


def cmd_clean(args) -> int:
    from data_prep.stages.clean.clean import clean

    cfg = _checked(CleanConfig, args)
    out = Path(args.out)
    return finish(clean(args.inputs, out, cfg), stats_path_for(out), {"clean": cfg.to_dict()})


def cmd_neardedup(args) -> int:
    from data_prep.stages.clean.neardedup import NearDedupError, Plan
    from data_prep.stages.clean.neardedup_cluster import run_all, run_stage

    cfg = _checked(CleanConfig, args)
    work = Path(args.work)
    try:
        plan = Plan.make(args.inputs, work, cfg, args.part_mb)
        if args.stage == "all":
            if (args.num_tasks or 1) != 1:
                raise UsageError("neardedup all runs every stage in this process; for array tasks run the stages")
            stats = run_all(plan, args.force)
            return finish(stats, work / "stats.json", {"neardedup": plan.describe()})
        task_index, num_tasks = _tasks(args)
        stats = run_stage(plan, args.stage, task_index, num_tasks, args.force)
    except NearDedupError as exc:
        raise UsageError(str(exc)) from exc
    return finish(stats)


def expand_jsonl_inputs(inputs: list[str]) -> list[str]:
    """Folders become their ``part-*.jsonl`` files in name order (e.g. neardedup's WORK/out)."""
    out = []
    for p in inputs:
        out += sorted(str(f) for f in Path(p).glob("part-*.jsonl")) if Path(p).is_dir() else [p]
    return out


def cmd_split(args) -> int:
    from data_prep.stages.split.decontam import ExclusionFileError, load_exclusions
    from data_prep.stages.split.split import split

    cfg = _checked(SplitConfig, args)
    try:
        ex = load_exclusions(**cfg.exclusion_files())
    except ExclusionFileError as exc:
        raise UsageError(str(exc)) from exc
    out = Path(args.out)
    return finish(split(expand_jsonl_inputs(args.inputs), out, cfg, ex), out / "stats.json", {"split": cfg.to_dict()})


def cmd_train_tokenizer(args) -> int:
    from data_prep.stages.tokenizer.train_tokenizer import train_tokenizer

    cfg = _checked(TokenizerConfig, args)
    out = Path(args.out)
    try:
        stats = train_tokenizer(args.inputs, out, cfg)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    return finish(stats, out / "stats.json", {"tokenizer": cfg.to_dict()})


def cmd_shard(args) -> int:
    from biomamba.tokenizer import TokenizerError, load_tokenizer
    from data_prep.stages.shard.merge_manifest import merge_manifests
    from data_prep.stages.shard.shard import shard

    cfg = _checked(ShardConfig, args)
    task_index, num_tasks = _tasks(args)
    input_dir, out = Path(args.input), Path(args.out)
    splits = cfg.splits or sorted(p.name for p in input_dir.iterdir() if (p / "parts.json").is_file())
    if not splits:
        raise UsageError(f"{input_dir}: no split folders with parts.json; run `split` first")
    try:
        tok = load_tokenizer(args.tokenizer)
        stats, touched = shard(input_dir, tok, out, cfg, splits, task_index, num_tasks)
    except (TokenizerError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from exc
    out.mkdir(parents=True, exist_ok=True)
    code = finish(stats, out / f"stats.task-{task_index:05d}-of-{num_tasks:05d}.json",
                  {"shard": cfg.to_dict(), "tokenizer": tok.describe(), "task": [task_index, num_tasks]})
    if num_tasks == 1:
        merge_manifests(out, touched)
        log.info("manifests written for %s", ", ".join(touched))
    else:
        log.info("task %d/%d done; when all tasks are done run: python -m data_prep merge-manifest %s",
                 task_index, num_tasks, out)
    return code


def cmd_merge_manifest(args) -> int:
    from data_prep.stages.shard.merge_manifest import MergeError, merge_manifests

    try:
        manifests = merge_manifests(args.out, args.splits, verify=args.verify)
    except MergeError as exc:
        log.error("%s", exc)
        return 1
    for split, m in manifests.items():
        t = m["totals"]
        print(json.dumps({"split": split, **t, "shard_pattern": m["shard_pattern"]}))
    return 0


def cmd_plan(args) -> int:
    from data_prep.prep_plan import RESULTS, PlanError, format_plan, plan_rows, read_rates

    if args.tasks < 1:
        raise UsageError("--tasks: must be >= 1")
    try:
        rates = read_rates(args.results or RESULTS)
    except PlanError as exc:
        raise UsageError(str(exc)) from exc
    rows = plan_rows(rates, args.tasks, args.citations, args.files, args.part_mb)
    print(format_plan(rows, args.tasks, args.citations))
    return 0


def cmd_run(args) -> int:
    from biomamba.config import load_config
    from data_prep.config import PrepConfig
    from data_prep.pipeline import run_pipeline

    try:
        cfg = load_config(PrepConfig, args.config, args.overrides)
    except ConfigError as exc:
        raise UsageError(f"config error: {exc}") from exc
    if args.dry_run:
        print(cfg.to_yaml(), end="")
        return 0
    return run_pipeline(cfg, force=args.force)


HANDLERS = {
    "download": cmd_download, "extract": cmd_extract, "resolve": cmd_resolve, "clean": cmd_clean,
    "neardedup": cmd_neardedup, "split": cmd_split, "train-tokenizer": cmd_train_tokenizer, "shard": cmd_shard,
    "merge-manifest": cmd_merge_manifest, "plan": cmd_plan, "run": cmd_run,
}


def dispatch(args: argparse.Namespace) -> int:
    return HANDLERS[args.command](args)
