"""Pack EOS-terminated documents into fixed windows, with exact byte counts.

A stream of documents is one long token sequence.  Window ``i`` is tokens
``[i*L, i*L + L + 1)``: ``input_ids = w[:-1]``, ``labels = w[1:]``.  Consecutive
windows share one token, so every token after the stream's first is a target
exactly once and nothing is padded or dropped (windows cross document
boundaries; EOS separates documents).

Bits per byte needs the UTF-8 bytes behind the targets.  A document of ``T``
tokens (EOS included) and ``b`` bytes credits its first ``k`` tokens with
``floor(k * b / T)`` bytes, so token ``k`` carries
``floor((k+1)b/T) - floor(kb/T)``: integers that sum to exactly ``b`` per
document, hence exact totals over any split of the stream into windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


def credited_bytes(k: int, nbytes: int, ntokens: int) -> int:
    """Bytes credited to the first ``k`` tokens of a document (exact integer apportionment)."""
    return k * nbytes // ntokens


def token_bytes(nbytes: int, ntokens: int) -> np.ndarray:
    """Per-token bytes of one document (reference for tests; the packer never builds this)."""
    k = np.arange(ntokens + 1, dtype=np.int64)
    return np.diff(k * nbytes // ntokens)


@dataclass
class Doc:
    """One document: tokens ending in EOS, UTF-8 bytes, where it sits in its stream, and its
    identity (training: ``(dataset, epoch, shard, index in shard)``, for the document log)."""

    tokens: np.ndarray
    nbytes: int
    pos: tuple = ()
    id: tuple = ()


class Packer:
    """Cuts a document iterator into spans of ``n * L + 1`` tokens (``n`` windows).

    After a span, the position is its last token (the next span's first), as
    ``(doc.pos, offset)``; a packer started with ``start_offset`` skips that
    many tokens of its first document, which is how a saved position resumes.
    """

    def __init__(self, docs: Iterator[Doc], start_pos: tuple = (), start_offset: int = 0):
        self._docs = docs
        self._doc: Doc | None = None
        self._pos = start_pos
        self._off = start_offset
        self._pieces: list[tuple] = []  # (doc id, span offset, first doc token, tokens) of the last span

    @property
    def position(self) -> tuple[tuple, int]:
        return self._pos, self._off

    def take(self, n_windows: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Tokens of the next ``n_windows`` windows and the bytes of each window's targets.

        Returns ``(tokens, row_bytes)``: ``tokens`` has ``n_windows*seq_len + 1``
        entries, fewer only when the documents run out (validation); windows
        past the end get 0 bytes.
        """
        need = n_windows * seq_len + 1
        bounds = [i * seq_len + 1 for i in range(n_windows + 1)]  # credited bytes needed at these span positions
        credit: list[int] = []
        pieces: list[np.ndarray] = []
        got = cum = 0
        self._pieces = []
        while got < need:
            if self._doc is None:
                doc = next(self._docs, None)
                if doc is None:
                    break
                self._doc, self._pos = doc, doc.pos
            doc = self._doc
            ntok = len(doc.tokens)
            a = self._off
            m = min(ntok - a, need - got)
            pieces.append(doc.tokens[a : a + m])
            self._pieces.append((doc.id, got, a, m))
            base = credited_bytes(a, doc.nbytes, ntok)
            while len(credit) < len(bounds) and bounds[len(credit)] <= got + m:
                x = bounds[len(credit)]
                credit.append(cum + credited_bytes(a + x - got, doc.nbytes, ntok) - base)
            cum += credited_bytes(a + m, doc.nbytes, ntok) - base
            got += m
            if got == need:
                self._off = a + m - 1  # the span's last token opens the next span
            else:
                self._doc, self._off = None, 0
        credit += [cum] * (len(bounds) - len(credit))
        tokens = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)
        return tokens, np.diff(np.asarray(credit, dtype=np.int64))

    def target_spans(self, n_windows: int, seq_len: int) -> list[list[list]]:
        """For each window of the last :meth:`take`, the document token ranges its targets cover:
        ``[*doc.id, first, end]`` (targets of window ``i`` are span positions ``i*L+1 .. i*L+L``)."""
        out = []
        for i in range(n_windows):
            lo, hi = i * seq_len + 1, i * seq_len + seq_len + 1
            spans = []
            for doc_id, at, a, m in self._pieces:
                x0, x1 = max(lo, at), min(hi, at + m)
                if x0 < x1:
                    spans.append([*doc_id, a + x0 - at, a + x1 - at])
            out.append(spans)
        return out
