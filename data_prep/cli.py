"""``python -m data_prep <command>``: argument parsing; the work is in :mod:`data_prep.commands`.

The flags of a stage's settings are generated from its dataclass in :mod:`data_prep.config`
(:func:`~biomamba.config.cli.add_flags`); the flags here are the ones that are not settings
(outputs, array-task position, ``--force``).

Exit codes: 0 done; 1 some input file could not be read or downloaded (the
rest was processed; see the summary); 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import sys

from biomamba.config.cli import add_config_arguments, add_flags
from data_prep import commands
from data_prep.config import (CleanConfig, DownloadConfig, PmcConfig, PubmedConfig, ShardConfig, SplitConfig,
                              TokenizerConfig, csv_list)
from data_prep.common.progress import setup_logging

NEAR_DEDUP_FLAGS = ("near_dup_threshold", "num_perm", "shingle_words")
TOKENIZER_FLAGS = ("vocab_size", "sample_docs", "max_sentences", "threads")


def _task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task-index", type=int, default=None,
                   help="this array task (default: $SLURM_ARRAY_TASK_ID, else 0)")
    p.add_argument("--num-tasks", type=int, default=None,
                   help="number of array tasks (default: $SLURM_ARRAY_TASK_COUNT, else 1)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m data_prep", description="BioMamba data preparation (docs/data_prep.md)")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)

    dl = sub.add_parser("download", help="fetch PubMed baseline/update files or PMC articles").add_subparsers(
        dest="source", required=True)
    p = dl.add_parser("pubmed", help="NLM baseline or update files with MD5 check and resume")
    add_flags(p, DownloadConfig, ("kind",))
    p.add_argument("--out", required=True, help="folder for the .xml.gz files")
    add_flags(p, DownloadConfig, ("base_url", "limit", "retries"))
    p = dl.add_parser("pmc", help="PMC Open Access articles from the per-article cloud layout")
    p.add_argument("--ids", required=True, help="file of PMC ids (PMC123 or PMC123.2), one per line")
    p.add_argument("--out", required=True)
    p.add_argument("--subset", choices=["any", "commercial"], default="any")
    p.add_argument("--base-url", default=commands.PMC_BASE)
    p.add_argument("--xml-template", default=commands.PMC_XML_TEMPLATE)
    p.add_argument("--meta-template", default=commands.PMC_META_TEMPLATE)
    add_flags(p, DownloadConfig, ("limit", "retries"))

    ex = sub.add_parser("extract", help="XML -> records (JSONL)").add_subparsers(dest="source", required=True)
    p = ex.add_parser("pubmed", help="PubMed XML(.gz) files, in update order")
    add_flags(p, PubmedConfig, ("inputs",))
    p.add_argument("--out", required=True, help="OUT.jsonl (resolved) or a folder of per-file parts (array jobs)")
    add_flags(p, PubmedConfig, ("languages", "keep_retracted", "keep_title_only", "min_chars"))
    p.add_argument("--force", action="store_true", help="re-extract parts that are up to date")
    _task_args(p)
    p = ex.add_parser("pmc", help="JATS .nxml/.xml files, folders or tarballs")
    add_flags(p, PmcConfig, ("inputs",))
    p.add_argument("--out", required=True, help="OUT.jsonl")
    add_flags(p, PmcConfig, ("licenses", "languages", "keep_notices", "require_body", "min_chars"))

    p = sub.add_parser("resolve", help="apply updates/deletions/versions across extracted parts")
    p.add_argument("parts", nargs="+", metavar="PARTS", help="part folders (natural name order) or part files")
    p.add_argument("--out", required=True, help="OUT.jsonl")

    p = sub.add_parser("clean", help="normalize, PubMed/PMC overlap, exact + near dedup")
    p.add_argument("inputs", nargs="+", metavar="IN.jsonl")
    p.add_argument("--out", required=True)
    add_flags(p, CleanConfig)

    p = sub.add_parser("neardedup", help="near-dedup as array stages: signatures, buckets, clusters, filter (or all)")
    p.add_argument("stage", choices=["signatures", "buckets", "clusters", "filter", "all"])
    p.add_argument("inputs", nargs="+", metavar="IN.jsonl", help="the clean stage's output (run with --no-near-dedup)")
    p.add_argument("--work", required=True, help="folder for the stages' outputs; kept records: WORK/out/part-*.jsonl")
    p.add_argument("--part-mb", type=float, default=256.0, help="input bytes per part (one signatures/filter item)")
    add_flags(p, CleanConfig, NEAR_DEDUP_FLAGS)
    p.add_argument("--force", action="store_true", help="redo outputs that are up to date")
    _task_args(p)

    p = sub.add_parser("split", help="train/val/test by id hash, evaluation documents removed")
    p.add_argument("inputs", nargs="+", metavar="IN.jsonl", help="files, or folders of part-*.jsonl (neardedup's WORK/out)")
    p.add_argument("--out", required=True, help="folder for <split>/part-*.jsonl")
    add_flags(p, SplitConfig)

    p = sub.add_parser("train-tokenizer", help="SentencePiece BPE on a sample of the train split")
    p.add_argument("inputs", nargs="+", metavar="SPLIT_DIR_OR_JSONL")
    p.add_argument("--out", required=True)
    add_flags(p, TokenizerConfig, TOKENIZER_FLAGS)

    p = sub.add_parser("shard", help="tokenize split parts into WebDataset token shards")
    p.add_argument("--input", required=True, help="the split output folder")
    p.add_argument("--tokenizer", required=True, help=".model, tokenizer.json or a folder with one")
    p.add_argument("--out", required=True)
    add_flags(p, ShardConfig)
    _task_args(p)

    p = sub.add_parser("merge-manifest", help="join shard receipts into each split's manifest.json")
    p.add_argument("out", metavar="SHARD_DIR")
    p.add_argument("--splits", type=csv_list, default=None)
    p.add_argument("--verify", action="store_true", help="re-hash every shard against its receipt")

    p = sub.add_parser("plan", help="estimated wall time and peak memory per stage of a full-baseline run")
    p.add_argument("--tasks", type=int, default=64, help="array tasks (one core each)")
    p.add_argument("--citations", type=int, default=38_200_000)
    p.add_argument("--files", type=int, default=1274, help="PubMed XML files (extract items)")
    p.add_argument("--part-mb", type=float, default=256.0, help="neardedup --part-mb")
    p.add_argument("--results", default=None, help="RESULTS.md with the RATE lines (default: benchmarks/RESULTS.md)")

    p = sub.add_parser("run", help="the whole chain from a config (configs/data/*.yaml)")
    add_config_arguments(p, required=True)
    p.add_argument("--force", action="store_true", help="rerun stages that are up to date")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return commands.dispatch(args)
    except commands.UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
