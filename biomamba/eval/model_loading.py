"""Open any model directory BioMamba understands as a scorer plus its tokenizer.

Training runs and checkpoints, BioMamba exports, Hugging Face
``MambaForCausalLM`` directories and mamba_ssm directories are read by
:func:`biomamba.convert.source.read_source` and run as our
:class:`~biomamba.model.MambaLM`, so every Mamba model is evaluated by the
same code.  (Other Hugging Face causal LMs: :func:`~biomamba.eval.adapters.hf_causal_lm_scorer`.)

The tokenizer is the one stored with the model unless ``tokenizer_path`` is
given; when the model records the content hash of the tokenizer it was
trained with, a different tokenizer is refused -- its ids would mean other
strings and every score would be garbage.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from biomamba.eval.adapters import mamba_lm_scorer
from biomamba.eval.scoring import CausalLMScorer


def load_mamba_scorer(
    path: str | os.PathLike,
    tokenizer_path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    tag: str = "latest",
):
    """(scorer, tokenizer) for the Mamba model at ``path`` (``tag``: training checkpoint to use)."""
    from biomamba.convert.source import read_source, tokenizer_hashes
    from biomamba.model import MambaLM
    from biomamba.tokenizer import load_tokenizer

    source = read_source(path, tag)
    tok_path = tokenizer_path or source.tokenizer_path
    if tok_path is None:
        raise ValueError(f"{path}: no tokenizer stored with the model; pass the tokenizer it was trained with")
    tokenizer = load_tokenizer(tok_path)
    if source.tokenizer_hash and source.tokenizer_hash not in tokenizer_hashes(tokenizer, tok_path):
        raise ValueError(
            f"{path} was trained with tokenizer {source.tokenizer_hash[:12]}…, but {tok_path} is "
            f"{tokenizer.content_hash[:12]}…; use the model's own tokenizer"
        )
    if tokenizer.vocab_size > source.config.padded_vocab_size:
        raise ValueError(
            f"{tok_path} has {tokenizer.vocab_size} tokens but the model at {path} only "
            f"{source.config.padded_vocab_size} embeddings"
        )
    model = MambaLM(source.config)
    model.load_state_dict(source.state_dict)
    model.to(device=device, dtype=dtype)
    pad = tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id
    name = Path(path).resolve().name
    scorer: CausalLMScorer = mamba_lm_scorer(model, vocab_size=tokenizer.vocab_size, pad_id=pad, name=name)
    return scorer, tokenizer
