"""Write a mamba_ssm directory: what ``MambaLMHeadModel.from_pretrained(dir)`` reads.

mamba_ssm's loader (``mamba_ssm.utils.hf``) opens exactly two files: ``config.json``,
passed as ``MambaConfig(**config)`` — so it must hold mamba_ssm's fields only
(:meth:`MambaConfig.to_mamba_ssm_dict`) — and ``pytorch_model.bin``, given to
``torch.load`` and then ``load_state_dict`` (strict, so ``lm_head.weight`` must be
present even when tied; ``torch.save`` stores the shared tensor once). The file is a
plain dict of tensors, so it also opens with ``torch.load(weights_only=True)``.
Tokenizer files, ``biomamba_meta.json`` and a README are added for people and for
our own importer; mamba_ssm ignores them.
"""

from __future__ import annotations

import json
from pathlib import Path

from biomamba.rundir import META

from .model_card import render
from .source import LoadedModel
from .tokenizer_export import export_tokenizer
from .weights import BIN_SINGLE, cast, dtype_name, save_bin


def write_mamba_ssm(model: LoadedModel, out: Path, *, dtype: str | None = None, tokenizer: str | None = None) -> None:
    sd = cast(model.state_dict, dtype)
    if model.config.tie_embeddings:
        sd["lm_head.weight"] = sd["backbone.embedding.weight"]  # one storage after casting, as mamba_ssm saves it
    tok, _ = export_tokenizer(model, out, tokenizer)
    (out / "config.json").write_text(json.dumps(model.config.to_mamba_ssm_dict(), indent=4) + "\n")
    save_bin(sd, out / BIN_SINGLE)
    if model.meta:
        (out / META).write_text(json.dumps(model.meta, indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(render(model, dtype=dtype_name(sd), tokenizer=tok, target="mamba_ssm"))
