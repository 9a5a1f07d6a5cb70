"""On-disk primitives every part of BioMamba shares: atomic, durable writes; hashes; provenance.

A write that a later run will trust goes through here: data goes to a temporary file in the same
folder, is flushed and fsynced, renamed over the target, and the folder itself is fsynced so the
rename survives a power cut or a node loss, not only a killed process. A job killed at any point
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import IO, Iterable, Iterator

__all__ = [
    "fsync_dir",
    "fsync_tree",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "sha256_file",
    "package_versions",
    "git_commit",
]


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a directory, so the entries created or renamed in it are durable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - e.g. a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> int:
    """fsync every file and directory below ``root`` (inclusive); returns the number of files synced.

    Used before a checkpoint is marked COMPLETE: files written by another library (DeepSpeed's
    shard files) are made durable before our marker says they can be trusted.
    """
    root = Path(root)
    n = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                fd = os.open(p, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
                n += 1
            finally:
                os.close(fd)
        fsync_dir(dirpath)
    if root.parent.exists():
        fsync_dir(root.parent)
    return n


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp.{os.getpid()}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it replaces ``path`` durably.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open is for writing; got mode {mode!r}")
    path = Path(path)
    tmp = _tmp_name(path)
    f = open(tmp, mode, encoding=encoding if "b" not in mode else None)
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if not f.closed:
            f.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + fsync + rename + fsync of the folder."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int | None = 2, sort_keys: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n").encode("utf-8"))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The commit of the BioMamba checkout (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=cwd or Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions(
    names: Iterable[str] = ("biomamba", "torch", "numpy", "webdataset", "sentencepiece", "tokenizers", "lxml"),
    *, with_git: bool = False,
) -> dict:
    """Installed versions of the named packages (recorded next to every output)."""
    from importlib import metadata

    out: dict = {"python": sys.version.split()[0], "platform": platform.platform()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    if with_git:
        out["git_commit"] = git_commit()
    return out
