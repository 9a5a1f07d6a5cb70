"""Held-out text sets for the language-model metrics: JSONL record files or data-prep split folders.

A ``--heldout`` entry is a JSONL file of records with a ``text`` field (the record contract of
docs/CONTRACTS.md) or a folder of them -- e.g. data prep's ``<out>/split/test/`` with its
``part-*.jsonl``. Files are read in name order and at most ``limit`` texts are taken, so
every model is scored on exactly the same texts.
"""

from __future__ import annotations

import re
from pathlib import Path

from biomamba.eval.lm_metrics import read_jsonl_texts


def heldout_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(".jsonl"))
        if files:
            return files
        raise ValueError(f"--heldout {p}: no *.jsonl files in this folder (data prep writes them to <out>/split/test/)")
    raise ValueError(f"--heldout {p}: no such file or folder")


def read_heldout(path: str | Path, limit: int | None) -> list[str]:
    texts: list[str] = []
    for f in heldout_files(path):
        texts += read_jsonl_texts(f, limit=None if limit is None else limit - len(texts))
        if limit is not None and len(texts) >= limit:
            break
    return texts


def heldout_names(paths: list[str]) -> list[str]:
    """``heldout`` for one set; ``heldout_<file or folder name>`` (made distinct) for several."""
    if len(paths) == 1:
        return ["heldout"]
    names: list[str] = []
    for path in paths:
        stem = re.sub(r"[^A-Za-z0-9_]+", "_", Path(path).name.removesuffix(".jsonl")).strip("_") or "set"
        name, n = f"heldout_{stem}", 2
        while name in names:
            name, n = f"heldout_{stem}_{n}", n + 1
        names.append(name)
    return names
