"""The int-mtime fast path data_prep added to ``ShardWriter`` writes the same bytes as webdataset."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import webdataset as wds

from biomamba.data.format import ShardFormatError, ShardWriter, decode_tokens, doc_key, encode_tokens


def reference_tar(docs) -> bytes:
    buf = io.BytesIO()
    w = wds.TarWriter(buf, user="biomamba", group="biomamba", mtime=0)
    for doc_id, tokens, nbytes, meta in docs:
        info = {"id": doc_id, "bytes": nbytes, **meta}
        w.write({"__key__": doc_key(doc_id), "tokens.npy": encode_tokens(np.asarray(tokens, dtype=np.uint16)),
                 "json": json.dumps(info, sort_keys=True, ensure_ascii=False).encode("utf-8")})
    w.close()
    return buf.getvalue()


def test_fast_path_is_byte_identical_to_webdataset(tmp_path):
    docs = [(f"pmid:{i}", list(range(1, 3 + i * 37)) + [2], 5 * i + 1, {"year": 2000 + i, "source": "f.xml"})
            for i in range(40)]
    docs.append(("pmc:PMC" + "9" * 120, [5, 2], 3, {"source": "ünïcode-λ.xml"}))  # long name: PAX header
    docs.append(("pmid:λ-ünïcode", [7, 2], 2, {}))
    docs += [("p" * n, [9, 2], 1, {}) for n in (88, 89, 90, 94, 95, 96)]  # around the 100-byte name field
    w = ShardWriter(tmp_path / "shard-000000.tar", np.uint16, mtime=0)
    for doc_id, tokens, nbytes, meta in docs:
        w.add(doc_id, tokens, nbytes, meta)
    entry = w.close()
    data = (tmp_path / "shard-000000.tar").read_bytes()
    assert data == reference_tar(docs)
    assert entry.size == len(data) and entry.documents == len(docs)
    samples = list(wds.WebDataset(str(tmp_path / "shard-000000.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == [doc_key(d[0]) for d in docs]
    assert decode_tokens(samples[3]["tokens.npy"]).tolist() == docs[3][1]


def test_default_float_mtime_path_unchanged(tmp_path):
    w = ShardWriter(tmp_path / "a.tar", np.uint16)
    w.add("pmid:1", [3, 2], 1)
    w.close()
    assert b"mtime=0.0" in (tmp_path / "a.tar").read_bytes()  # webdataset path, PAX mtime record as before


def test_encode_tokens_fast_path_equals_np_save():
    for dtype in (np.uint16, np.uint32, np.int64):
        for n in (0, 1, 2, 7, 100, 1000, 4097, 70000):
            arr = (np.arange(n) * 7919 % 60000).astype(dtype)
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            assert encode_tokens(arr) == buf.getvalue(), (dtype, n)
            assert encode_tokens(arr[::2]) == encode_tokens(np.ascontiguousarray(arr[::2]))
    two_d = np.arange(12, dtype=np.uint16).reshape(3, 4)
    buf = io.BytesIO()
    np.save(buf, two_d, allow_pickle=False)
    assert encode_tokens(two_d) == buf.getvalue()


def _golden_docs():
    rng = np.random.default_rng(7)
    docs = []
    for i in range(300):
        n = int(rng.integers(1, 3000))
        docs.append((f"pmid:{1000 + i}" if i % 7 else f"pmc:PMC{i}.{i % 3}", rng.integers(0, 32000, n).tolist() + [2],
                     int(rng.integers(1, 20000)), {"year": 1990 + i % 30, "source": f"pubmed25n{i % 4:04d}.xml.gz"}))
    docs.append(("pmc:PMC" + "9" * 120, [5, 2], 3, {"source": "ünïcode-λ.xml", "license": "CC BY"}))
    docs.append(("pmid:λ-ünïcode", [7, 2], 2, {}))
    return docs


def test_shards_are_byte_identical_to_the_writer_before_the_speedups(tmp_path):
    """sha256 of shards written by the ShardWriter of commit 55b077c (before the cached npy headers and
    the incremental tar checksums): the speedups must not change one byte."""
    golden = {np.uint16: "200f577c49f208b5eadc46114ff595a36518d7e943577c82af7f3e3068a19348",
              np.uint32: "3ad49d891a448265a6d79d87af8727cbbe79d1a467e093a486c823aa09a9eb36"}
    for dt, sha in golden.items():
        w = ShardWriter(tmp_path / f"{dt.__name__}.tar", dt, mtime=0)
        for doc_id, tokens, nbytes, meta in _golden_docs():
            w.add(doc_id, np.asarray(tokens, dtype=dt), nbytes, meta)
        assert w.close().sha256 == sha, dt


def test_add_batch_writes_what_add_writes(tmp_path):
    docs = _golden_docs()
    for mtime in (0, 0.0):  # our tar members and webdataset's TarWriter
        one = ShardWriter(tmp_path / f"one{mtime!r}.tar", np.uint16, mtime=mtime)
        for doc_id, tokens, nbytes, meta in docs:
            one.add(doc_id, np.asarray(tokens, dtype=np.uint16), nbytes, meta)
        batched = ShardWriter(tmp_path / f"batched{mtime!r}.tar", np.uint16, mtime=mtime)
        for i in range(0, len(docs), 64):
            part = docs[i:i + 64]
            flat = np.concatenate([np.asarray(d[1], dtype=np.int64) for d in part])
            n = batched.add_batch([d[0] for d in part], flat, [len(d[1]) for d in part], [d[2] for d in part],
                                  [d[3] for d in part])
            assert n == flat.size
        a, b = one.close(), batched.close()
        assert (a.sha256, a.documents, a.tokens, a.bytes) == (b.sha256, b.documents, b.tokens, b.bytes)


def test_add_batch_rejects_bad_input_naming_the_document(tmp_path):
    w = ShardWriter(tmp_path / "x.tar", np.uint16, mtime=0)
    with pytest.raises(ShardFormatError, match="pmid:2: token id 70000 does not fit uint16"):
        w.add_batch(["pmid:1", "pmid:2"], np.array([5, 2, 70000, 2]), [2, 2], [1, 1], [None, None])
    with pytest.raises(ShardFormatError, match="pmid:2: tokens must be a non-empty"):
        w.add_batch(["pmid:1", "pmid:2"], np.array([5, 2]), [2, 0], [1, 1], [None, None])
    with pytest.raises(ShardFormatError, match="do not match"):
        w.add_batch(["pmid:1", "pmid:2"], np.array([5, 2, 2]), [2, 2], [1, 1], [None, None])
    with pytest.raises(ShardFormatError, match="pmid:3: token id 65536"):
        w.add("pmid:3", [65536, 2], 1)
    w.abort()
    assert not list(tmp_path.iterdir())
