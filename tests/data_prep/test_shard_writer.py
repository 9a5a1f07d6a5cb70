"""The int-mtime fast path data_prep added to ``ShardWriter`` writes the same bytes as webdataset."""

from __future__ import annotations

import io
import json

import numpy as np
import webdataset as wds

from biomamba.data.format import ShardWriter, decode_tokens, doc_key, encode_tokens


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
