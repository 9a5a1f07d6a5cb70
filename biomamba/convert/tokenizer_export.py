"""Tokenizer files next to exported weights, so ``AutoTokenizer.from_pretrained(out)`` works offline.

The tokenizer is, in order: ``--tokenizer PATH``; the one the training run recorded
(``tokenizer`` in its config, checked against the recorded content hash); or the
tokenizer files already in a source model directory (copied verbatim, so an HF → HF
conversion keeps them byte-identical). A fresh export goes through
:meth:`biomamba.tokenizer.Tokenizer.save_hf_files` (``tokenizer.json`` +
``tokenizer_config.json``); a SentencePiece model is also copied as ``tokenizer.model``
so our own tools reopen it with its original content hash.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .consolidate import ConversionError
from .source import TOKENIZER_FILES, LoadedModel, tokenizer_hashes


def _open(path):
    from biomamba.tokenizer import TokenizerError, load_tokenizer

    try:
        return load_tokenizer(path)
    except TokenizerError as exc:
        raise ConversionError(f"tokenizer {path}: {exc}") from exc


def export_tokenizer(model: LoadedModel, out: Path, override: str | None = None):
    """Write tokenizer files into ``out``; returns (Tokenizer or None, whether its ids define the config)."""
    path = Path(override) if override else (model.tokenizer_path if model.kind == "training" else None)
    if path is not None:
        tok = _open(path)
        if tok.vocab_size > model.config.vocab_size:
            raise ConversionError(f"tokenizer {path} has {tok.vocab_size} tokens but {model.describe()} has only "
                                  f"{model.config.vocab_size} embedding rows; it is not this model's tokenizer")
        if model.tokenizer_hash and model.tokenizer_hash not in tokenizer_hashes(tok, path):
            raise ConversionError(
                f"tokenizer {path} (sha256 {tok.content_hash[:12]}…) is not the one {model.describe()} was trained "
                f"with ({model.tokenizer_hash[:12]}…); pass the training tokenizer with --tokenizer")
        from biomamba.tokenizer import TokenizerError

        try:
            tok.save_hf_files(out)
        except TokenizerError as exc:
            raise ConversionError(f"tokenizer {path}: cannot export it for transformers: {exc}") from exc
        if tok.kind == "sentencepiece":
            shutil.copyfile(tok.path, out / "tokenizer.model")
        return tok, True
    src = model.tokenizer_path
    if src is not None and src.is_dir():
        for name in TOKENIZER_FILES:
            if (src / name).is_file():
                shutil.copyfile(src / name, out / name)
        return _open(out), False
    recorded = (model.meta or {}).get("config", {}).get("tokenizer")
    why = f"the run's tokenizer {recorded} is not found here" if recorded else f"no tokenizer known for {model.describe()}"
    print(f"[biomamba-convert] warning: {why}; the export has no tokenizer files (pass --tokenizer PATH)",
          file=sys.stderr)
    return None, False
