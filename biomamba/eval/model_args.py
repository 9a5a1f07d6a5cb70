"""Command-line options for which model runs where (shared by ``launcher/evaluate.py`` and ``bioasq answer``).

How the model answers is :class:`biomamba.eval.decoding.DecodingConfig`, whose flags are generated
(``add_flags(parser, DecodingConfig)``).
"""

from __future__ import annotations

import argparse

import torch


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", help="tokenizer for models that store none (a model's own always wins)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
