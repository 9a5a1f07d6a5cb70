"""Synthetic token splits written with the real ShardWriter (shared by the loader tests).

Document ``i`` of a split is ``[first_id + i] * (length - 1) + [EOS]``: its
tokens name it, so tests can tell from any batch which documents it holds and
how many of their tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from biomamba.data.format import MANIFEST, ShardWriter, new_manifest, token_dtype
from biomamba.io import atomic_write_json

EOS = 0


def doc_tokens(doc_id: int, length: int) -> np.ndarray:
    return np.array([doc_id] * (length - 1) + [EOS], dtype=np.int64)


def write_split(
    out: Path,
    lengths: Sequence[int],
    docs_per_shard: int | Sequence[int],
    *,
    first_id: int = 1,
    vocab_size: int = 70000,
    split: str = "train",
    seed: int = 0,
) -> dict:
    """Write documents of the given token lengths (EOS included) into shards; return the manifest.

    Byte counts are random (1..6 bytes per token, sometimes 0 for one-token
    documents) so byte apportionment is exercised with uneven ratios.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if isinstance(docs_per_shard, int):
        sizes = [docs_per_shard] * -(-len(lengths) // docs_per_shard)
    else:
        sizes = list(docs_per_shard)
    dtype = token_dtype(vocab_size)
    entries, i = [], 0
    for k, size in enumerate(sizes):
        writer = ShardWriter(out / f"shard-{k:06d}.tar", dtype)
        for _ in range(size):
            if i >= len(lengths):
                break
            n = int(lengths[i])
            writer.add(f"doc:{first_id + i}", doc_tokens(first_id + i, n), int(rng.integers(0, 6 * n + 1)))
            i += 1
        entries.append(writer.close())
    assert i == len(lengths), "docs_per_shard does not cover all documents"
    tokenizer = {"kind": "test", "hash": "t", "path": ""}
    manifest = new_manifest(split, entries, vocab_size=vocab_size, eos_id=EOS, tokenizer=tokenizer)
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def random_lengths(n: int, seed: int = 0, low: int = 1, high: int = 60) -> list[int]:
    return np.random.default_rng(seed).integers(low, high, size=n).tolist()


def doc_bytes(split_dir: Path) -> dict[int, tuple[int, int]]:
    """doc id -> (tokens, bytes) read back through the manifest's shards (reference for tests)."""
    import json
    import tarfile

    out = {}
    for tar in sorted(Path(split_dir).glob("shard-*.tar")):
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                if m.name.endswith(".json"):
                    info = json.loads(tf.extractfile(m).read())
                    out[int(info["id"].split(":")[1])] = info["bytes"]
    return out
