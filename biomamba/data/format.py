"""The token-shard format: the one contract between data preparation and the loader.

A prepared split is a folder::

    <split_dir>/
        manifest.json                  # written last, atomically
        shard-000000.tar               # WebDataset tar shards
        shard-000001.tar
        ...

Each shard holds one sample per document, with the WebDataset key equal to the
document id with dots replaced by ``_`` (``pmid:12345``, ``pmc:PMC1234567``):

* ``<key>.tokens.npy`` — ``numpy.save`` of a 1-D ``uint16`` (vocab <= 65536) or
  ``uint32`` array: the document's tokens followed by one EOS token.
* ``<key>.json`` — ``{"id", "bytes", ...metadata}`` where ``bytes`` is the
  UTF-8 byte length of the text that was tokenized (EOS excluded); used for
  bits-per-byte.

``manifest.json`` (keys are a contract; see :func:`new_manifest`):

``format`` (``"biomamba-shards/1"``), ``split``, ``dtype``, ``eos_id``,
``vocab_size``, ``tokenizer`` ({``kind``, ``hash``, ``path``}), ``shard_pattern``
(brace notation), ``shards`` (list of {``name``, ``documents``, ``tokens``,
``bytes``, ``size``, ``sha256``}), ``totals`` ({``documents``, ``tokens``,
``bytes``, ``shards``}), ``config`` (the producing job's resolved config) and
``versions`` (package versions).  Optional: ``decontamination`` -- which evaluation
sets were removed from this split ({``version``, ``sets``: [{``kind``, ``path``, ``name``,
``sha256``, ``ids``}], ``pmids``, ``pmcids``, ``removed_documents``, ``removed_ids``}; written
by data_prep's split, see data_prep/stages/split/decontam.py).  A manifest without it (older
preparations) stays readable; evaluation then cannot call its metrics clean.

Shards are written to ``<name>.tmp.<pid>`` and renamed (fsync of the file and the
folder, :mod:`biomamba.io`), so a killed job never leaves a file under a final shard
name; tar headers use ``mtime=0`` and fixed owner names so a rerun is byte-identical.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from biomamba.io import durable_replace, sha256_file

FORMAT = "biomamba-shards/1"
MANIFEST = "manifest.json"
SHARD_TEMPLATE = "shard-{:06d}.tar"


class ShardFormatError(ValueError):
    """A manifest or shard does not follow this format (message names the file)."""


def doc_key(doc_id: str) -> str:
    """WebDataset key for a document id (WebDataset splits keys at the first dot)."""
    return doc_id.replace(".", "_")


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def encode_tokens(tokens: np.ndarray) -> bytes:
    """The ``.npy`` bytes of ``tokens``, exactly as ``np.save`` writes them.

    1-D arrays (every document) take a fast path: the header depends only on dtype and
    length, so it is built once per (dtype, length) by numpy's own header writer and cached;
    ``np.save`` would rebuild it (a dict repr, padding, a format check) for every document.
    tests/data_prep/stages/test_shard_writer.py checks the bytes against ``np.save``.
    """
    tokens = np.ascontiguousarray(tokens)
    if tokens.ndim == 1 and not tokens.dtype.hasobject:
        return _npy_header(tokens.dtype.str, tokens.shape[0]) + tokens.tobytes()
    buf = io.BytesIO()
    np.save(buf, tokens, allow_pickle=False)
    return buf.getvalue()


@functools.lru_cache(maxsize=1 << 16)
def _npy_header(descr: str, n: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": (n,)})
    return buf.getvalue()


def decode_tokens(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


@dataclass
class ShardEntry:
    name: str
    documents: int
    tokens: int
    bytes: int
    size: int
    sha256: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# what json.dumps(info, sort_keys=True, ensure_ascii=False) builds anew on every call
_META_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


@dataclass
class ShardWriter:
    """Write one shard: ``add()`` documents (or ``add_batch()`` several), then ``close()`` renames into place.

    ``tokens`` passed to :meth:`add` must already end with EOS.  Nothing appears
    under the final name until :meth:`close` succeeds.
    """

    path: Path
    dtype: np.dtype
    _tmp: Path = field(init=False)
    _file: io.BufferedWriter = field(init=False)
    _writer: object = field(init=False)
    documents: int = 0
    tokens: int = 0
    nbytes: int = 0
    # Added by data_prep (backward compatible, default unchanged): an int mtime (0) keeps
    # tarfile from writing a 1 KiB PAX header before every member, as a float mtime does,
    # and writes members through shard_tar.TarMembers (same bytes as webdataset's TarWriter would).
    mtime: float = 0.0

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.dtype = np.dtype(self.dtype)
        self._tmp = self.path.with_name(f"{self.path.name}.tmp.{os.getpid()}")
        self._file = open(self._tmp, "wb")
        # mtime=0 and fixed user/group make the tar byte-identical across reruns.
        if isinstance(self.mtime, int):
            from biomamba.data.shard_tar import TarMembers

            self._writer = TarMembers(self._file, user="biomamba", group="biomamba", mtime=self.mtime)
        else:  # webdataset imports torch (~1.5 CPU-seconds): only this path needs it
            import webdataset as wds

            self._writer = wds.TarWriter(self._file, user="biomamba", group="biomamba", mtime=self.mtime)

    def add(self, doc_id: str, tokens: Iterable[int] | np.ndarray, text_bytes: int, meta: dict | None = None) -> int:
        arr = np.asarray(tokens)
        if arr.ndim != 1 or arr.size == 0:
            raise ShardFormatError(f"{doc_id}: tokens must be a non-empty 1-D sequence")
        return self.add_batch([doc_id], arr, [arr.size], [text_bytes], [meta])

    def add_batch(self, doc_ids: Sequence[str], tokens: np.ndarray, lengths: Sequence[int],
                  text_bytes: Sequence[int], metas: Sequence[dict | None]) -> int:
        """Add several documents at once, as :meth:`add` would one by one (same bytes).

        ``tokens`` holds the documents' token arrays (each ending with EOS) concatenated, ``lengths``
        their sizes; the range check and the dtype conversion run once, and the documents' tar
        members go to the file in one write.  Returns the number of tokens added.
        """
        arr, n_docs, top = np.asarray(tokens), len(doc_ids), np.iinfo(self.dtype).max
        if not n_docs == len(lengths) == len(text_bytes) == len(metas) or arr.ndim != 1 or sum(lengths) != arr.size:
            raise ShardFormatError(f"add_batch: {n_docs} ids, {len(lengths)} lengths, {len(text_bytes)} byte counts, "
                                   f"{len(metas)} metas and {arr.size} tokens ({arr.ndim}-D) do not match")
        if n_docs and min(lengths) < 1:
            bad = doc_ids[list(lengths).index(min(lengths))]
            raise ShardFormatError(f"{bad}: tokens must be a non-empty 1-D sequence")
        if arr.size and not np.can_cast(arr.dtype, self.dtype) and arr.max() > top:
            bad = doc_ids[int(np.searchsorted(np.cumsum(lengths), int(np.argmax(arr > top)), side="right"))]
            raise ShardFormatError(f"{bad}: token id {int(arr.max())} does not fit {self.dtype}")
        data = arr.astype(self.dtype, copy=False).tobytes()
        descr, size = self.dtype.str, self.dtype.itemsize
        tar = self._writer if isinstance(self.mtime, int) else None  # shard_tar.TarMembers
        out: list = []
        pos = total_bytes = 0
        for doc_id, n, nbytes, meta in zip(doc_ids, lengths, text_bytes, metas):
            info = {"id": doc_id, "bytes": int(nbytes)}
            total_bytes += info["bytes"]
            if meta:
                info.update({k: v for k, v in meta.items() if k not in info})
            meta_json, npy_header = _META_JSON(info).encode("utf-8"), _npy_header(descr, int(n))
            body, pos = data[pos:pos + n * size], pos + n * size
            if tar is not None:
                tar.append(out, doc_key(doc_id), meta_json, npy_header, body)
            else:
                self._writer.write({"__key__": doc_key(doc_id), "tokens.npy": npy_header + body, "json": meta_json})
        if tar is not None:
            tar.write(out)
        self.documents += len(doc_ids)
        self.tokens += int(arr.size)
        self.nbytes += total_bytes
        return int(arr.size)

    def close(self) -> ShardEntry:
        self._writer.close()  # closes the tar stream and the file object
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        digest = sha256_file(self._tmp)
        size = self._tmp.stat().st_size
        durable_replace(self._tmp, self.path)  # and fsync of the folder
        return ShardEntry(self.path.name, self.documents, self.tokens, self.nbytes, size, digest)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            if not self._file.closed:
                self._file.close()
            self._tmp.unlink(missing_ok=True)


def brace_pattern(names: list[str]) -> str:
    """``shard-{000000..000011}.tar`` for contiguous numbered shards, else a comma list."""
    nums = []
    for n in names:
        m = re.fullmatch(r"shard-(\d{6})\.tar", n)
        if not m:
            return ",".join(names)
        nums.append(int(m.group(1)))
    if not nums:
        return ""
    if nums == list(range(nums[0], nums[0] + len(nums))):
        if len(nums) == 1:
            return names[0]
        return f"shard-{{{nums[0]:06d}..{nums[-1]:06d}}}.tar"
    return ",".join(names)


def new_manifest(
    split: str,
    shards: list[ShardEntry | dict],
    *,
    vocab_size: int,
    eos_id: int,
    tokenizer: dict,
    config: dict | None = None,
    versions: dict | None = None,
    decontamination: dict | None = None,
) -> dict:
    entries = [s.to_dict() if isinstance(s, ShardEntry) else dict(s) for s in shards]
    entries.sort(key=lambda e: e["name"])
    optional = {} if decontamination is None else {"decontamination": decontamination}
    return {
        "format": FORMAT,
        "split": split,
        "dtype": token_dtype(vocab_size).name,
        "eos_id": int(eos_id),
        "vocab_size": int(vocab_size),
        "tokenizer": tokenizer,
        "shard_pattern": brace_pattern([e["name"] for e in entries]),
        "shards": entries,
        "totals": {
            "documents": sum(e["documents"] for e in entries),
            "tokens": sum(e["tokens"] for e in entries),
            "bytes": sum(e["bytes"] for e in entries),
            "shards": len(entries),
        },
        "config": config or {},
        "versions": versions or {},
        **optional,
    }


REQUIRED_KEYS = ("format", "split", "dtype", "eos_id", "vocab_size", "tokenizer", "shards", "totals")


def read_manifest(split_dir: str | os.PathLike) -> dict:
    """Load and check ``<split_dir>/manifest.json``; errors name the file and the problem."""
    split_dir = Path(split_dir)
    path = split_dir / MANIFEST if split_dir.is_dir() or not split_dir.name.endswith(".json") else split_dir
    if not path.is_file():
        raise ShardFormatError(
            f"no manifest at {path}: run `python -m data_prep shard ...` (or merge-manifest) for this split first"
        )
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ShardFormatError(f"{path}: not valid JSON ({exc}); the prep job may have been interrupted — rerun it") from exc
    missing = [k for k in REQUIRED_KEYS if k not in m]
    if missing:
        raise ShardFormatError(f"{path}: missing keys {missing}")
    if m["format"] != FORMAT:
        raise ShardFormatError(f"{path}: format {m['format']!r}, this version reads {FORMAT!r}")
    for e in m["shards"]:
        for k in ("name", "documents", "tokens", "bytes", "sha256"):
            if k not in e:
                raise ShardFormatError(f"{path}: shard entry {e.get('name', '?')} lacks {k!r}")
    return m
