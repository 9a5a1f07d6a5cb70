"""``python -m biomamba.eval.bioasq score --gold GOLD.json --submission SUB.json``

Prints one JSON object: the Phase-B scores (see
:mod:`biomamba.eval.bioasq.scorer`), ``counts`` and ``warnings``.  Exit code 0
when scored, 2 when a file cannot be read as BioASQ JSON.

``python -m biomamba.eval.bioasq answer --model PATH --questions BATCH.json --out SUB.json``
writes a model's submission for a test batch (see :mod:`biomamba.eval.bioasq.answer_cli`).
"""

from __future__ import annotations

import argparse
import json
import sys

from biomamba.config.cli import add_flags
from biomamba.eval.bioasq.answer_cli import add_answer_parser, answer_main
from biomamba.eval.bioasq.data import BioASQFormatError
from biomamba.eval.bioasq.scorer import score_files
from biomamba.eval.bioasq.submission import SubmissionFormatError
from biomamba.eval.config import EvalConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m biomamba.eval.bioasq", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    score = sub.add_parser("score", help="score a Phase-B submission against a golden file")
    score.add_argument("--gold", required=True, help="BioASQ golden JSON (with exact and ideal answers)")
    score.add_argument("--submission", required=True, help="Phase-B submission JSON")
    add_flags(score, EvalConfig, ("missing", "rouge_stemmer"))
    score.add_argument("--per-question", action="store_true", help="also print each question's scores")
    add_answer_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "answer":
        return answer_main(args)

    try:
        result = score_files(args.gold, args.submission, missing=args.missing, use_stemmer=args.stemmer)
    except (OSError, BioASQFormatError, SubmissionFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(per_question=args.per_question), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
