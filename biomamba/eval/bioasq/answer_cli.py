"""``python -m biomamba.eval.bioasq answer``: a model answers a BioASQ test batch -> an official Phase-B submission.

The batch needs no answers (an official test batch as BioASQ distributes it); score the
result later with ``score --gold`` once the golden file is out. The model is any path
``launcher/evaluate.py`` takes: a fine-tuning run means its dev-selected checkpoint
(``best.json``), ``PATH@TAG`` another one.
"""

from __future__ import annotations

import argparse
import json
import sys

from biomamba.config.cli import add_flags, from_flags
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.model_args import add_model_arguments


def add_answer_parser(sub) -> None:
    p = sub.add_parser("answer", help="answer a test batch with a model; writes a Phase-B submission")
    p.add_argument("--model", required=True, metavar="PATH[@TAG]",
                   help="training run (its best.json checkpoint) or checkpoint, export, HF or mamba_ssm directory")
    p.add_argument("--questions", required=True, help="BioASQ task-b JSON: a test batch (answers, if any, are ignored)")
    p.add_argument("--out", required=True, help="submission JSON to write")
    add_model_arguments(p)
    add_flags(p, DecodingConfig)


def answer_main(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from biomamba.eval.answering import answer_bioasq
    from biomamba.eval.bioasq.data import BioASQFormatError, load_bioasq
    from biomamba.eval.bioasq.submission import write_submission
    from biomamba.eval.report.models import ModelError, as_dtype, describe, load, name_models

    try:
        questions, report = load_bioasq(args.questions)
        spec = describe(args.model, args.tokenizer)
    except (OSError, BioASQFormatError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not report.ok:
        print(report.summary(), file=sys.stderr)
    name_models([spec])
    scorer, tokenizer = load(spec, args.device, as_dtype(args.dtype))
    with tqdm(total=len(questions), desc=f"{spec.name}: answering", unit="question", file=sys.stderr) as bar:
        answers = answer_bioasq(scorer, tokenizer, questions, from_flags(DecodingConfig, args),
                                lambda done, total: bar.update(done - bar.n))
    written = write_submission(answers, args.out)
    print(json.dumps({"model": spec.name, "tag": spec.tag, "questions": len(questions),
                      "answered": len(written["questions"]), "skipped": [s.key for s in report.skipped],
                      "submission": args.out}, indent=2))
    return 0
