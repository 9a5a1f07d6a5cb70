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
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, Iterable, Iterator

__all__ = [
    "fsync_dir",
    "fsync_tree",
    "fsync_file",
    "tmp_path",
    "durable_replace",
    "replace_dir",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "AtomicWriter",
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


def fsync_file(path: str | os.PathLike) -> None:
    """fsync one file by name (e.g. a download that an earlier attempt appended to)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_path(path: str | os.PathLike, *, hidden: bool = True) -> Path:
    """The temporary sibling a write of ``path`` goes to: ``.<name>.tmp.<pid>`` (``<name>.tmp.<pid>``
    with ``hidden=False``, the name data_prep's stale-temp cleanup and the shard writer look for)."""
    path = Path(path)
    return path.with_name(f"{'.' if hidden else ''}{path.name}.tmp.{os.getpid()}")


def durable_replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` over ``dst`` and fsync ``dst``'s folder (and ``src``'s, when it differs).

    A regular file ``src`` is fsynced first, so the renamed entry never points at data that
    is still only in the page cache. Directories: fsync their contents with :func:`fsync_tree`.
    """
    src, dst = Path(src), Path(dst)
    if src.is_file():
        fsync_file(src)
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent.resolve() != dst.parent.resolve():
        fsync_dir(src.parent)


def replace_dir(tmp: str | os.PathLike, out: str | os.PathLike) -> None:
    """Publish the finished folder ``tmp`` as ``out`` (replacing an existing ``out``), durably.

    ``tmp``'s files are fsynced before the rename. An existing ``out`` is first renamed aside to
    ``.<name>.old-<pid>`` and deleted only after the new one is in place, so ``out`` never holds
    a mix of the two.
    """
    tmp, out = Path(tmp), Path(out)
    fsync_tree(tmp)
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
    os.replace(tmp, out)
    fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _publish(f: IO, tmp: Path, path: Path) -> None:
    """Flush and fsync the open temporary ``f`` (at ``tmp``), rename it over ``path``, fsync the folder."""
    f.flush()
    os.fsync(f.fileno())
    f.close()
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _discard(f: IO, tmp: Path) -> None:
    """Close and delete an unfinished temporary file; ``path`` is left as it was."""
    if not f.closed:
        f.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None, *,
                tmp: str | os.PathLike | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` (``tmp``, default :func:`tmp_path`) for writing; on a
    clean exit it replaces ``path`` durably.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open is for writing; got mode {mode!r}")
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else tmp_path(path)
    f = open(tmp, mode, encoding=encoding if "b" not in mode else None)
    try:
        yield f
        _publish(f, tmp, path)
    except BaseException:
        _discard(f, tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, tmp: str | os.PathLike | None = None) -> None:
    """Write ``data`` to ``path`` via a temp file + fsync + rename + fsync of the folder."""
    with atomic_open(path, "wb", tmp=tmp) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int | None = 2, sort_keys: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n").encode("utf-8"))


class AtomicWriter:
    """A file written line by line (JSONL, text) that appears under its name only on :meth:`commit`.

    Data goes to ``tmp`` (default :func:`tmp_path`); :meth:`commit` fsyncs it, renames it over
    ``path`` and fsyncs the folder; :meth:`abort` (or an exception in a ``with`` block) deletes it.
    A killed job therefore never leaves a file under the final name that a later run could
    mistake for complete output. Tracks the sha256, lines and bytes of what was written.
    """

    def __init__(self, path: str | os.PathLike, *, tmp: str | os.PathLike | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tmp) if tmp is not None else tmp_path(self.path)
        self._f = open(self.tmp, "wb")
        self._sha = hashlib.sha256()
        self.lines = 0
        self.bytes = 0

    def write_line(self, line: bytes | str) -> None:
        """Append ``line`` (it carries its own newline) and count it."""
        data = line.encode("utf-8") if isinstance(line, str) else line
        self._f.write(data)
        self._sha.update(data)
        self.lines += 1
        self.bytes += len(data)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def commit(self) -> Path:
        _publish(self._f, self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        _discard(self._f, self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


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
