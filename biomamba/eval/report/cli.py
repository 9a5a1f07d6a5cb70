"""``launcher/evaluate.py``: evaluate several models on the same sets and write a comparison report.

Outputs in ``--out``: ``report.md`` (tables), ``report.json`` (``{"models": [{"model", "name", "scores",
"metrics", "contamination", …}], "baselines", "comparisons", "bootstrap", "config", "versions"}``; ``scores``
are the flat point values read by ``biomamba.pipeline``, ``metrics`` the same with 95 % bootstrap intervals,
see :mod:`.statistics`), ``report.png`` (task groups as panels, CI whiskers, baseline lines),
``submissions/<model>.json`` (official BioASQ Phase-B submissions), ``config.json`` and
``versions.json``. Exit codes: 0 done, 2 bad arguments (a missing file, a model that cannot
be read, a task without its data).
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

from biomamba.eval.config import EvalConfig
from biomamba.config.cli import add_flags, from_flags
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.model_args import add_model_arguments

from .contamination import contamination, evaluation_sets
from .heldout import heldout_names, read_heldout
from .markdown import render
from .models import ModelError, as_dtype, describe, load, name_models, tokenizer_groups, tokenizer_info
from .plot import plot
from .provenance import finetune_sets, run_name, training_manifests, training_meta
from .scores import flatten_scores
from .statistics import add_statistics


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Compare models on BioASQ, PubMedQA and language-model metrics "
                                            "(docs/finetune.md).")
    p.add_argument("--models", nargs="+", required=True, metavar="PATH[@TAG]",
                   help="training runs or checkpoints (a run with best.json: its best checkpoint), BioMamba exports, "
                        "HF or mamba_ssm directories; PATH@TAG picks a training checkpoint")
    # The report's defaults: LM metrics too, and at most 2000 texts per set.
    add_flags(p, EvalConfig, ("tasks", "bioasq_gold", "pubmedqa_data", "pubmedqa_ground_truth"),
              defaults={"tasks": ["bioasq", "lm"]})
    p.add_argument("--heldout", nargs="+", default=[], metavar="JSONL_OR_DIR",
                   help="held-out texts: JSONL records with a 'text' field, or folders of them (<prep>/split/test/)")
    p.add_argument("--out", default="eval_report", help="output folder (default: eval_report)")
    add_model_arguments(p)
    add_flags(p, DecodingConfig)
    add_flags(p, EvalConfig, ("lm_max_texts", "lm_max_length", "lm_batch_size", "missing"),
              defaults={"lm_max_texts": 2000})
    p.add_argument("--names", nargs="+", metavar="NAME", help="display names, one per --models entry (default: from "
                   "the run: scale, data, step; else the folder name)")
    add_flags(p, EvalConfig, ("bootstrap_resamples", "bootstrap_seed"))
    return p.parse_args(argv)


def _check(args) -> None:
    if "bioasq" in args.tasks and not args.bioasq_gold:
        raise ModelError("--tasks bioasq needs --bioasq-gold GOLD.json")
    if "pubmedqa" in args.tasks and not (args.pubmedqa_data and args.pubmedqa_ground_truth):
        raise ModelError("--tasks pubmedqa needs --pubmedqa-data ori_pqal.json and --pubmedqa-ground-truth "
                         "test_ground_truth.json")
    if "lm" in args.tasks and not (args.bioasq_gold or args.heldout):
        raise ModelError("--tasks lm needs texts: --bioasq-gold and/or --heldout")
    for flag in ("bioasq_gold", "pubmedqa_data", "pubmedqa_ground_truth"):
        value = getattr(args, flag)
        if value and not Path(value).is_file():
            raise ModelError(f"--{flag.replace('_', '-')} {value}: no such file")
    if args.names and (len(args.names) != len(args.models) or len(set(args.names)) != len(args.names)):
        raise ModelError(f"--names: give one distinct name per --models entry ({len(args.models)}), got {args.names}")
    if args.bootstrap_resamples < 0:
        raise ModelError("--bootstrap-resamples: must be >= 0 (0: no intervals)")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda: no CUDA device here; use --device cpu")


def versions() -> dict:
    from biomamba.io import package_versions

    out = package_versions(("biomamba", "torch", "transformers", "sentencepiece", "tokenizers", "rouge-score",
                            "numpy", "matplotlib"))
    try:
        out["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                           cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = None
    return out


def eval_config(args, submission: Path | None) -> EvalConfig:
    # Held-out LM sets are scored here, not by evaluate_model: without a gold file "lm" has nothing left for it.
    tasks = [t for t in args.tasks if t != "lm" or args.bioasq_gold]
    return from_flags(EvalConfig, args, tasks=tasks, submission_out=str(submission) if submission else None,
                      lm_max_texts=args.lm_max_texts or None)


class _Progress:
    """A tqdm bar per model and task, fed by evaluate_model's progress callback."""

    def __init__(self, name: str):
        self.name, self.bar = name, None

    def __call__(self, task: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=f"{self.name}: {task}", unit="question", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def evaluate_one(spec, args, heldout: dict[str, list[str]], out: Path):
    """(report entry without the tokenizer group and intervals, tokenizer, raw result) of one model."""
    from biomamba.eval.lm_metrics import evaluate_texts
    from biomamba.eval.runner import evaluate_model

    scorer, tokenizer = load(spec, args.device, as_dtype(args.dtype))
    safe = re.sub(r"[^A-Za-z0-9_.@-]+", "_", spec.name)
    submission = out / "submissions" / f"{safe}.json" if "bioasq" in args.tasks else None
    if submission:
        submission.parent.mkdir(exist_ok=True)
    cfg = eval_config(args, submission)
    result: dict = {"loads": [], "seconds": {}}
    if cfg.tasks:
        progress = _Progress(spec.name)
        try:
            result = evaluate_model(scorer, tokenizer, cfg, progress)
        finally:
            progress.close()
    if "lm" in args.tasks and heldout:
        t0 = time.perf_counter()
        lm = result.setdefault("lm", {})
        for name, texts in heldout.items():
            print(f"[evaluate] {spec.name}: LM metrics on {name} ({len(texts)} texts)", file=sys.stderr, flush=True)
            lm[name] = evaluate_texts(scorer.device_logits, tokenizer, texts, max_length=args.lm_max_length,
                                      batch_size=args.lm_batch_size)
        result["seconds"]["lm_heldout"] = time.perf_counter() - t0
    entry = {
        "model": spec.spec, "name": spec.name, "path": str(spec.path.resolve()), "kind": spec.kind, "tag": spec.tag,
        "tokenizer": tokenizer_info(tokenizer),
        "scores": flatten_scores(result, cfg.decoding.ideal_answers),
        "submission": str(submission.relative_to(out)) if submission else None,
        "bioasq_counts": result.get("bioasq", {}).get("counts"),
        "warnings": result.get("bioasq", {}).get("warnings", []),
        "lm_sizes": {k: {"tokens": v["tokens"], "bytes": v["bytes"]} for k, v in result.get("lm", {}).items()},
        "loads": result.get("loads", []), "seconds": result.get("seconds", {}),
    }
    del scorer
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return entry, tokenizer, result


def set_names(specs, metas: list, names: list[str] | None) -> None:
    """``--names``, else the run's name (scale, data, step), else the folder name; made distinct."""
    name_models(specs)
    for s, meta, given in zip(specs, metas, names or [None] * len(specs)):
        s.name = given or run_name(meta) or s.name
    if not names:
        taken = [s.name for s in specs]
        for s in specs:
            if taken.count(s.name) > 1:
                s.name = f"{s.name} ({s.path.name})"


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        _check(args)
        specs = [describe(s, args.tokenizer) for s in args.models]
        sets = args.heldout if "lm" in args.tasks else []
        heldout = dict(zip(heldout_names(sets), (read_heldout(h, args.lm_max_texts or None) for h in sets)))
    except (ModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    metas = [training_meta(s.path, s.kind, s.tag) for s in specs]
    set_names(specs, metas, args.names)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {**vars(args), "eval": eval_config(args, None).to_dict(),
              "heldout_sets": {name: len(texts) for name, texts in heldout.items()}}
    report = {"models": [], "config": config, "versions": versions()}
    _write_json(out / "config.json", report["config"])
    _write_json(out / "versions.json", report["versions"])
    tokenizers, results = [], []
    eval_sets = evaluation_sets(args)
    for spec, meta in zip(specs, metas):
        print(f"[evaluate] {spec.name} ({spec.kind}, {spec.path})", file=sys.stderr, flush=True)
        entry, tokenizer, result = evaluate_one(spec, args, heldout, out)
        manifests = training_manifests(meta)
        entry["training_data"] = [path for path, _ in manifests]
        entry["contamination"] = contamination(manifests, eval_sets, finetune_sets(meta))
        report["models"].append(entry)
        tokenizers.append(tokenizer)
        results.append(result)
    for entry, group in zip(report["models"], tokenizer_groups(tokenizers)):
        entry["tokenizer"]["group"] = group
    add_statistics(report, results, args.bootstrap_resamples, args.bootstrap_seed)
    _write_json(out / "report.json", report)
    (out / "report.md").write_text(render(report))
    plot(report, out / "report.png")
    print(render(report))
    print(f"[evaluate] wrote {out / 'report.md'}, report.json, report.png", file=sys.stderr)
    return 0
