import io
import json

import numpy as np
import pytest

import biomamba.data.shard_reader as shard_reader
from biomamba.data.format import ShardFormatError, ShardWriter, decode_tokens, encode_tokens, read_manifest
from biomamba.data.shard_reader import ShardCorruptError, ShardReader, decode_doc_tokens

from .synthetic import EOS, doc_tokens, write_split


@pytest.fixture
def split(tmp_path):
    out = tmp_path / "split"
    write_split(out, [5, 9, 1, 30, 12, 7, 3], 3)
    return out


def read_all(reader, shard=None):
    shards = range(len(reader.shards)) if shard is None else [shard]
    return [reader.decode(k, s)[0].tolist() for k in shards for _, s in reader.samples(k)]


def flip_byte_in_tokens(path, doc_id):
    """Corrupt one token of document ``doc_id`` in place (same size, still a valid tar)."""
    data = bytearray(path.read_bytes())
    needle = encode_tokens(np.asarray(doc_tokens(doc_id, 30), dtype=np.uint32))
    at = data.find(needle)
    assert at > 0
    data[at + len(needle) - 8] ^= 0x01
    path.write_bytes(bytes(data))


def test_reads_documents_in_file_order(split):
    reader = ShardReader(split)
    assert read_all(reader) == [doc_tokens(i + 1, n).tolist() for i, n in enumerate([5, 9, 1, 30, 12, 7, 3])]
    stored = [json.loads(s["json"])["bytes"] for _, s in reader.samples(0)]
    assert [reader.decode(0, s)[1] for _, s in reader.samples(0)] == stored


def test_sample_level_selection(split):
    reader = ShardReader(split)
    got = [(i, reader.decode(0, s)[0][0]) for i, s in reader.samples(0, offset=1, stride=2)]
    assert got == [(0, 2)]  # shard 0 holds docs 1, 2, 3; index 1 is doc 2
    assert [i for i, _ in reader.samples(0, offset=0, stride=2)] == [0, 1]


@pytest.mark.parametrize("verify", ["first", "always"])
def test_corrupt_shard_is_refused_naming_it(split, verify):
    flip_byte_in_tokens(split / "shard-000001.tar", 4)
    reader = ShardReader(split, verify=verify)
    assert read_all(reader, 0)  # the intact shard reads fine
    with pytest.raises(ShardCorruptError, match=r"shard-000001\.tar: sha256 .* does not match"):
        read_all(reader, 1)


def test_verify_never_reads_the_corrupt_bytes(split):
    flip_byte_in_tokens(split / "shard-000001.tar", 4)
    docs = read_all(ShardReader(split, verify="never"), 1)
    assert docs[0] != doc_tokens(4, 30).tolist() and len(docs[0]) == 30


def test_first_hashes_once_always_every_time(split, monkeypatch):
    calls = []
    real = shard_reader.sha256_file
    monkeypatch.setattr(shard_reader, "sha256_file", lambda p: calls.append(p.name) or real(p))
    first = ShardReader(split, verify="first")
    read_all(first, 0), read_all(first, 0)
    assert calls == ["shard-000000.tar"] and first.pop_newly_verified() and not first.pop_newly_verified()
    calls.clear()
    always = ShardReader(split, verify="always")
    read_all(always, 0), read_all(always, 0)
    assert calls == ["shard-000000.tar"] * 2
    calls.clear()
    read_all(ShardReader(split, verify="never"), 0)
    assert calls == []


def test_missing_and_truncated_shards(split):
    (split / "shard-000002.tar").unlink()
    with pytest.raises(ShardFormatError, match=r"shard-000002\.tar is listed in .*manifest\.json but missing"):
        read_all(ShardReader(split, verify="never"), 2)
    data = (split / "shard-000001.tar").read_bytes()
    (split / "shard-000001.tar").write_bytes(data[:-1024])
    with pytest.raises(ShardCorruptError, match=r"shard-000001\.tar: \d+ bytes on disk, manifest says \d+"):
        read_all(ShardReader(split, verify="never"), 1)


def test_document_count_held_to_the_manifest(split):
    manifest = read_manifest(split)
    manifest["shards"][0]["documents"] = 4
    with pytest.raises(ShardFormatError, match=r"shard-000000\.tar: 3 documents, the manifest says 4"):
        read_all(ShardReader(split, manifest, verify="never"), 0)
    manifest["shards"][0]["documents"] = 2
    with pytest.raises(ShardFormatError, match="more documents than the manifest's 2"):
        read_all(ShardReader(split, manifest, verify="never"), 0)


def test_document_without_eos_is_refused(tmp_path):
    out = tmp_path / "bad"
    write_split(out, [4], 1)
    writer = ShardWriter(out / "shard-000000.tar", np.uint32)
    writer.add("doc:1", [5, 6, 7], 9)  # no EOS
    entry = writer.close()
    manifest = read_manifest(out)
    manifest["shards"][0].update(entry.to_dict())
    with pytest.raises(ShardFormatError, match=f"does not end with EOS {EOS}"):
        read_all(ShardReader(out, manifest), 0)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(7, dtype=np.uint16),
        np.arange(1, dtype=np.uint32),
        np.array([], dtype=np.uint16),
        np.arange(70000, 70005, dtype=np.uint32),
    ],
)
def test_fast_decode_matches_numpy(array):
    raw = encode_tokens(array)
    fast = decode_doc_tokens(raw, array.dtype)
    assert fast.dtype == array.dtype and np.array_equal(fast, decode_tokens(raw))


def test_fast_decode_falls_back_for_other_headers():
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=">u2"))  # big-endian: not the fast path's header
    out = decode_doc_tokens(buf.getvalue(), np.dtype(np.uint16))
    assert out.tolist() == list(range(6))
