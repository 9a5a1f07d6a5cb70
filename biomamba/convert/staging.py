"""Atomic output directories: a conversion writes into a hidden sibling and renames it at the very end.

A killed or failed conversion (including a failed ``--verify``) therefore never leaves
a directory under the requested name that looks complete; the hidden
``.<name>.tmp-<pid>`` folder is removed on failure (and, if the process was killed,
is obviously partial by its name). Its files are fsynced before the rename
(:func:`biomamba.io.replace_dir`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from biomamba.io import replace_dir

from .consolidate import ConversionError


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike, overwrite: bool = False):
    """Yield a fresh temporary directory that becomes ``out`` when the block succeeds."""
    out = Path(out).absolute()
    if out.exists() and not overwrite:
        raise ConversionError(f"{out} already exists; choose another --out or pass --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _umask_permissions(tmp)
    replace_dir(tmp, out)  # fsynced, then renamed over an existing ``out`` (moved aside, then deleted)


def _umask_permissions(root: Path) -> None:
    """Some writers (safetensors) create files 0600; give every file the mode the user's umask allows."""
    mask = os.umask(0)
    os.umask(mask)
    for p in root.rglob("*"):
        if p.is_file():
            p.chmod(0o666 & ~mask)
