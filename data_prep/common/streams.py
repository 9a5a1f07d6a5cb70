"""Stream a (possibly gzip-compressed) file as decompressed byte chunks, salvaging truncated files.

Why not ``gzip.open(...).read()``: when a gzip stream ends early (an interrupted
download) ``GzipFile`` raises ``EOFError`` and the bytes it had already
decompressed in that call are lost.  Here every decompressed chunk is yielded
*before* the problem is reported, so the caller keeps every complete record
before the cut.  Memory is bounded by the chunk size (decompression output is
capped per call, so a small compressed block cannot expand without limit).
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Iterator

GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 20
MAX_OUT = 4 << 20


class StreamError(Exception):
    """The byte stream ended abnormally; ``kind`` is the accounting key."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def iter_decompressed(path: str | Path, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    """Yield the file's (decompressed) content in chunks.

    Raises :class:`StreamError` (``truncated_gzip`` or ``corrupt_gzip``) only
    after yielding everything that could be decompressed.  Deflate cannot tell
    where damage began: a corrupt block may first yield some garbled bytes
    before zlib (or the final CRC) rejects the stream, so callers must still
    validate what they parse (records made of such bytes fail to parse and are
    counted).  Downloads are protected by their MD5 instead.  Multi-member gzip
    files (``cat a.gz b.gz``) are read to the end.  ``OSError`` (missing or
    unreadable file) propagates unchanged for the caller to report by path.
    """
    with open(path, "rb") as f:
        head = f.read(2)
        if head != GZIP_MAGIC:
            if head:
                yield head
            while True:
                block = f.read(chunk_size)
                if not block:
                    return
                yield block
        f.seek(0)
        yield from _gunzip(f, chunk_size, str(path))


def _gunzip(f, chunk_size: int, name: str) -> Iterator[bytes]:
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pending = b""
    while True:
        if pending:
            raw, pending = pending, b""
        else:
            raw = f.read(chunk_size)
        if not raw:
            if not d.eof:
                raise StreamError("truncated_gzip", f"{name}: gzip stream ends early (file truncated?)")
            return
        try:
            out = d.decompress(raw, MAX_OUT)
            while out:
                yield out
                out = d.decompress(d.unconsumed_tail, MAX_OUT) if d.unconsumed_tail else b""
        except zlib.error as exc:
            raise StreamError("corrupt_gzip", f"{name}: corrupt gzip data ({exc})") from exc
        if d.eof:
            rest = d.unused_data
            if rest.strip(b"\x00") or (not rest and _has_more(f)):
                # Another gzip member follows (concatenated .gz files).
                d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                pending = rest if rest.strip(b"\x00") else b""
            else:
                return


def _has_more(f) -> bool:
    pos = f.tell()
    nxt = f.read(1)
    f.seek(pos)
    return bool(nxt) and nxt != b"\x00"


class DecompressedReader(io.RawIOBase):
    """A read-only file object over :func:`iter_decompressed` (for ``tarfile.open(fileobj=..., mode="r|")``).

    Unlike ``gzip.open`` it hands out every byte decompressed before a
    truncation; the :class:`StreamError` is raised by the read that reaches it.
    """

    def __init__(self, path: str | Path, chunk_size: int = READ_CHUNK):
        self._it = iter_decompressed(path, chunk_size)
        self._buf = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            try:
                self._buf, self._pos = next(self._it), 0
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n
