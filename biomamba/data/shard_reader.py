"""Open, check and stream the shards of one prepared split.

Reading goes through webdataset's tar iterator (``tarfile_samples``); this
module adds what the training run needs around it: the size and sha256 check
against the manifest (errors name the shard and say what to do), document
counts held to the manifest, and a zero-copy token decode.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
import webdataset as wds

from biomamba.io import sha256_file

from .format import ShardFormatError, decode_tokens, read_manifest

Verify = Literal["always", "first", "never"]


class ShardCorruptError(ShardFormatError):
    """A shard's bytes do not match its manifest entry (size or sha256)."""


def decode_doc_tokens(raw: bytes, dtype: np.dtype) -> np.ndarray:
    """``format.decode_tokens`` without its per-call parsing cost.

    ``numpy.load`` on a BytesIO costs ~40 us per document, as much as reading
    the tar member; the header ``numpy.save`` writes for a 1-D little-endian
    array is recognised here and the payload wrapped with ``frombuffer``
    (read-only view, no copy).  Any other header goes through ``np.load``.
    """
    prefix = _NPY_PREFIX.get(dtype)
    if prefix is None:
        prefix = _NPY_PREFIX[dtype] = b"{'descr': '" + dtype.str.encode() + b"', 'fortran_order': False, 'shape': ("
    if raw[:8] == b"\x93NUMPY\x01\x00":
        hlen = int.from_bytes(raw[8:10], "little")
        header = raw[10 : 10 + hlen]
        if header.startswith(prefix):
            end = header.find(b",)", len(prefix))
            if end > 0:
                n = int(header[len(prefix) : end])
                if 10 + hlen + n * dtype.itemsize == len(raw):
                    return np.frombuffer(raw, dtype=dtype, count=n, offset=10 + hlen)
    return decode_tokens(raw)


_NPY_PREFIX: dict[np.dtype, bytes] = {}


# Shards whose sha256 this process has checked, keyed by (path, manifest sha256, size,
# mtime_ns, inode) so that a file replaced after its check is checked again.  Process-wide:
# verify="first" means once per process, however many loaders are built (the training
# engine builds a validation loader per evaluation).  Forked workers inherit it; what they
# verify comes back to the parent with their batches (see remember_verified).
VERIFIED: set = set()


def remember_verified(keys) -> None:
    VERIFIED.update(tuple(k) for k in keys)


class ShardReader:
    """The shards of one split, verified per ``verify`` and streamed in file order.

    Shards verified here are listed in :attr:`newly_verified` until
    :meth:`pop_newly_verified` hands them back across the worker boundary.
    """

    def __init__(
        self,
        split_dir: str | os.PathLike,
        manifest: dict | None = None,
        verify: Verify = "first",
        verified: set | None = None,
    ):
        self.split_dir = Path(split_dir)
        if self.split_dir.name == "manifest.json":
            self.split_dir = self.split_dir.parent
        self.manifest = manifest if manifest is not None else read_manifest(self.split_dir)
        self.shards: list[dict] = self.manifest["shards"]
        self.dtype = np.dtype(self.manifest["dtype"])
        self.eos_id = int(self.manifest["eos_id"])
        self.verify = verify
        self.verified: set = VERIFIED if verified is None else verified
        self.newly_verified: list = []

    def __getstate__(self) -> dict:
        # Sent to spawn/forkserver workers: carry a snapshot of what is verified already.
        return {**self.__dict__, "verified": set(self.verified)}

    def path(self, shard: int) -> Path:
        return self.split_dir / self.shards[shard]["name"]

    def pop_newly_verified(self) -> list:
        out, self.newly_verified = self.newly_verified, []
        return out

    def check(self, shard: int) -> Path:
        """Existence and size always (a stat); sha256 as ``verify`` says."""
        entry = self.shards[shard]
        path = self.path(shard)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ShardFormatError(
                f"shard {path} is listed in {self.split_dir / 'manifest.json'} but missing; "
                "copy it back or rerun data preparation for this split"
            ) from None
        if "size" in entry and st.st_size != entry["size"]:
            raise ShardCorruptError(
                f"shard {path}: {st.st_size} bytes on disk, manifest says {entry['size']}; "
                "the file is truncated or was rewritten after the manifest — re-copy it or rerun data preparation"
            )
        key = (str(path), entry["sha256"], st.st_size, st.st_mtime_ns, st.st_ino)
        if self.verify == "always" or (self.verify == "first" and key not in self.verified):
            digest = sha256_file(path)
            if digest != entry["sha256"]:
                raise ShardCorruptError(
                    f"shard {path}: sha256 {digest} does not match the manifest's {entry['sha256']}; "
                    "the file is corrupt or was rewritten after the manifest — re-copy it or rerun data "
                    "preparation (data.verify=never skips this check; not recommended)"
                )
            if key not in self.verified:
                self.verified.add(key)
                self.newly_verified.append(key)
        return path

    def samples(self, shard: int, offset: int = 0, stride: int = 1) -> Iterator[tuple[int, dict]]:
        """``(local index, raw sample)`` for documents ``i % stride == offset`` of ``shard``.

        Raw samples are webdataset dicts (``tokens.npy`` and ``json`` bytes);
        skipped documents are never decoded.  The shard must hold exactly the
        manifest's document count.
        """
        path = self.check(shard)
        expected = int(self.shards[shard]["documents"])
        i = -1
        try:
            for i, sample in enumerate(wds.tariterators.tarfile_samples([{"url": str(path)}])):
                if i >= expected:
                    raise ShardFormatError(f"shard {path}: more documents than the manifest's {expected}")
                if i % stride == offset:
                    if "tokens.npy" not in sample or "json" not in sample:
                        raise ShardFormatError(
                            f"shard {path}: sample {sample.get('__key__')!r} lacks tokens.npy or json "
                            f"(has {sorted(k for k in sample if not k.startswith('__'))})"
                        )
                    yield (i - offset) // stride, sample
        except (tarfile.TarError, EOFError) as exc:
            raise ShardFormatError(
                f"shard {path}: unreadable tar after {i + 1} documents ({exc}); re-copy the shard"
            ) from exc
        if i + 1 != expected:
            raise ShardFormatError(f"shard {path}: {i + 1} documents, the manifest says {expected}")

    def decode(self, shard: int, sample: dict) -> tuple[np.ndarray, int]:
        """Tokens (ending in EOS) and UTF-8 byte count of one raw sample."""
        tokens = decode_doc_tokens(sample["tokens.npy"], self.dtype)
        if tokens.dtype != self.dtype:
            raise ShardFormatError(
                f"shard {self.path(shard)}: document {sample.get('__key__')!r} has {tokens.dtype} tokens, "
                f"the manifest says {self.dtype}"
            )
        if tokens.ndim != 1 or tokens.size == 0 or int(tokens[-1]) != self.eos_id:
            raise ShardFormatError(
                f"shard {self.path(shard)}: document {sample.get('__key__')!r} does not end with EOS "
                f"{self.eos_id} (shape {tokens.shape}); the shard was not written by ShardWriter.add"
            )
        return tokens, int(json.loads(sample["json"])["bytes"])
