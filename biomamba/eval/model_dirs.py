"""Which checkpoint a model path means, and which tokenizer is stored with it -- without loading weights.

* ``PATH@TAG`` names a checkpoint of a training run; a bare run directory means its
  model-selection best (``best.json``, written by fine-tuning) when there is one, else
  ``latest``. Evaluating "the fine-tuned model" therefore evaluates the checkpoint the dev
  split chose, never simply the last one.
* :func:`stored_tokenizer_path` finds the tokenizer a model directory carries (export and HF
  directories: their tokenizer files; training runs: the ``tokenizer`` of the checkpoint's
  config), so fine-tuning and evaluation can default to the model's own tokenizer.
"""

from __future__ import annotations

import os
from pathlib import Path

from biomamba.rundir import LATEST, RunDir, checkpoints_dir, is_tag_dir, read_meta, resolve_tag


def _is_training_run(p: Path) -> bool:
    from biomamba.convert.source import detect

    return p.is_dir() and detect(p) == "training"


def resolve_model_spec(spec: str | os.PathLike) -> tuple[Path, str]:
    """``"runs/ft@step_00000300"`` -> (path, tag); a run with ``best.json`` defaults to its best tag."""
    text = str(spec)
    path, _, tag = text.rpartition("@") if "@" in Path(text).name else (text, "", "")
    p = Path(path)
    if tag:
        return p, tag
    best = RunDir(p).best_tag()
    return p, best if best is not None else LATEST


def _has_tokenizer_files(d: Path) -> bool:
    return (d / "tokenizer.json").is_file() or any(d.glob("*.model"))


def stored_tokenizer_path(path: str | os.PathLike, tag: str = LATEST) -> Path | None:
    """The tokenizer stored with the model at ``path`` (a file or a directory holding one), or None."""
    from biomamba.convert.consolidate import ConversionError

    p = Path(path)
    if not _is_training_run(p):
        return p if _has_tokenizer_files(p) else None
    if is_tag_dir(p):
        meta = read_meta(p, ConversionError)
    else:
        ckpt = checkpoints_dir(p, ConversionError)
        meta = read_meta(ckpt / resolve_tag(ckpt, tag, ConversionError), ConversionError)
    recorded = (meta.get("config") or {}).get("tokenizer")
    return Path(recorded) if recorded and Path(recorded).exists() else None
