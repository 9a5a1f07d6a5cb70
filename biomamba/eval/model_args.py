"""Command-line options for how a model answers (shared by ``launcher/evaluate.py`` and ``bioasq answer``)."""

from __future__ import annotations

import argparse

import torch

from biomamba.eval.answering import DecodingSettings


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", help="tokenizer for models that store none (a model's own always wins)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))


def add_decoding_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-prompt-tokens", type=int, default=1024)
    p.add_argument("--max-exact-tokens", type=int, default=32)
    p.add_argument("--max-ideal-tokens", type=int, default=200)
    p.add_argument("--factoid-candidates", type=int, default=5, choices=range(1, 6), metavar="1..5")
    p.add_argument("--no-ideal-answers", action="store_true", help="skip ideal answers (faster; no ROUGE scores)")
    p.add_argument("--repeat-question", action=argparse.BooleanOptionalAction, default=True,
                   help="restate the question after the context (use the setting the model was fine-tuned with)")


def decoding_settings(args: argparse.Namespace) -> DecodingSettings:
    return DecodingSettings(max_prompt_tokens=args.max_prompt_tokens, max_exact_tokens=args.max_exact_tokens,
                            max_ideal_tokens=args.max_ideal_tokens, factoid_candidates=args.factoid_candidates,
                            repeat_question=args.repeat_question, ideal_answers=not args.no_ideal_answers)
