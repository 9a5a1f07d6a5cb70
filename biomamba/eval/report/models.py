"""Open the models to compare: any BioMamba-readable Mamba directory, or another Hugging Face causal LM.

Each model is evaluated with its own tokenizer (the one stored with it; ``--tokenizer`` only
for models that store none): feeding a model ids of another vocabulary would score garbage.
Paths are checked up front (:func:`describe`), weights are loaded one model at a time
(:func:`load`) so a GPU holds one model at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from biomamba.eval.model_dirs import resolve_model_spec, stored_tokenizer_path

MAMBA_KINDS = ("training", "biomamba", "hf", "mamba_ssm")
OTHER_HF = "hf-causal-lm"  # a Hugging Face model that is not Mamba-1 (e.g. a general-domain transformer)


class ModelError(ValueError):
    """A model path cannot be evaluated; the message says why and what to pass."""


@dataclass
class ModelSpec:
    spec: str  # as given on the command line
    path: Path
    kind: str  # one of MAMBA_KINDS or OTHER_HF
    tag: str | None  # training checkpoints: the resolved tag
    tokenizer_path: Path
    name: str = ""


def _kind(path: Path) -> str:
    from biomamba.convert.consolidate import ConversionError
    from biomamba.convert.source import detect

    try:
        return detect(path)
    except ConversionError as exc:
        config = path / "config.json"
        if config.is_file() and "model_type" in json.loads(config.read_text()):
            return OTHER_HF
        raise ModelError(str(exc)) from exc


def describe(spec: str, tokenizer: str | None) -> ModelSpec:
    """Resolve a ``--models`` entry without loading weights (fails fast on a bad path)."""
    from biomamba.convert.consolidate import ConversionError
    from biomamba.rundir import checkpoints_dir, is_tag_dir, resolve_tag

    path, tag = resolve_model_spec(spec)
    if not path.is_dir():
        raise ModelError(f"{spec}: no such model directory")
    kind = _kind(path)
    resolved_tag = None
    try:
        if kind == "training":
            resolved_tag = path.name if is_tag_dir(path) else resolve_tag(checkpoints_dir(path, ConversionError), tag,
                                                                          ConversionError)
        stored = stored_tokenizer_path(path, resolved_tag or tag) if kind != OTHER_HF else None
    except ConversionError as exc:
        raise ModelError(f"{spec}: {exc}") from exc
    if kind == OTHER_HF and (path / "tokenizer.json").is_file():
        stored = path
    chosen = stored or (Path(tokenizer) if tokenizer else None)
    if chosen is None:
        raise ModelError(f"{spec}: stores no tokenizer; pass --tokenizer with the one it was trained with")
    return ModelSpec(spec, path, kind, resolved_tag, chosen)


def name_models(specs: list[ModelSpec]) -> None:
    """Short distinct display names: the folder name (+ @tag), with the parent folder when needed."""
    def base(s: ModelSpec, parents: int) -> str:
        parts = s.path.resolve().parts
        return "/".join(parts[-1 - parents :]) + (f"@{s.tag}" if s.tag else "")

    for s in specs:
        s.name = base(s, 0)
    names = [s.name for s in specs]
    for s in specs:
        if names.count(s.name) > 1:
            s.name = base(s, 1)


def load(spec: ModelSpec, device: str, dtype: torch.dtype):
    """(scorer, tokenizer) of one model."""
    from biomamba.tokenizer import load_tokenizer

    if spec.kind == OTHER_HF:
        from biomamba.eval.adapters import hf_causal_lm_scorer

        tokenizer = load_tokenizer(spec.tokenizer_path)
        pad = tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id
        scorer = hf_causal_lm_scorer(spec.path, vocab_size=tokenizer.vocab_size, pad_id=pad, device=device,
                                     dtype=dtype, name=spec.name)
        return scorer, tokenizer
    from biomamba.eval.model_loading import load_mamba_scorer

    scorer, tokenizer = load_mamba_scorer(spec.path, spec.tokenizer_path, device=device, dtype=dtype,
                                          tag=spec.tag or "latest")
    scorer.name = spec.name
    return scorer, tokenizer


def tokenizer_info(tokenizer) -> dict:
    return {"path": str(tokenizer.path), "kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size,
            "content_hash": tokenizer.content_hash}


def same_tokenizer(a, b) -> bool:
    """Same content hash (also one an export recorded) or the same id -> string table."""
    from biomamba.convert.source import tokenizer_hashes
    from biomamba.convert.vocab import token_strings

    if tokenizer_hashes(a, a.path) & tokenizer_hashes(b, b.path):
        return True
    return a.vocab_size == b.vocab_size and token_strings(a) == token_strings(b)


def tokenizer_groups(tokenizers: list) -> list[str]:
    """A letter per model; models share a letter exactly when they share a tokenizer."""
    letters: list[str] = []
    reps: list = []
    for tok in tokenizers:
        for i, rep in enumerate(reps):
            if same_tokenizer(tok, rep):
                letters.append(chr(ord("A") + i))
                break
        else:
            reps.append(tok)
            letters.append(chr(ord("A") + len(reps) - 1))
    return letters


def as_dtype(name: str) -> torch.dtype:
    return {"fp32": torch.float32, "bf16": torch.bfloat16}[name]

