"""Streaming decompression that keeps what came before a truncation or corruption."""

from __future__ import annotations

import gzip
import os

import pytest

from data_prep.common.streams import StreamError, iter_decompressed


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def test_plain_and_gzip_give_same_bytes(tmp_path):
    data = os.urandom(1000) + b"x" * 3_000_000
    (tmp_path / "a.xml").write_bytes(data)
    (tmp_path / "a.xml.gz").write_bytes(_gz(data))
    assert b"".join(iter_decompressed(tmp_path / "a.xml", chunk_size=4096)) == data
    assert b"".join(iter_decompressed(tmp_path / "a.xml.gz", chunk_size=4096)) == data


def test_multi_member_gzip_is_read_to_the_end(tmp_path):
    (tmp_path / "m.gz").write_bytes(_gz(b"first member\n") + _gz(b"second member\n"))
    assert b"".join(iter_decompressed(tmp_path / "m.gz")) == b"first member\nsecond member\n"


def test_truncated_gzip_yields_everything_before_the_cut(tmp_path):
    data = b"".join(b"<r>%08d</r>\n" % i for i in range(200_000))
    comp = _gz(data)
    (tmp_path / "t.gz").write_bytes(comp[: len(comp) // 2])
    got = []
    with pytest.raises(StreamError) as err:
        for chunk in iter_decompressed(tmp_path / "t.gz", chunk_size=8192):
            got.append(chunk)
    assert err.value.kind == "truncated_gzip"
    salvaged = b"".join(got)
    assert len(salvaged) > len(data) // 3  # most of the first half of the compressed stream
    assert data.startswith(salvaged)


def test_corrupt_gzip_is_reported_after_the_good_part(tmp_path):
    data = b"".join(b"<r>%08d</r>\n" % i for i in range(200_000))
    comp = bytearray(_gz(data))
    mid = len(comp) // 2
    comp[mid: mid + 64] = b"\xff" * 64
    (tmp_path / "c.gz").write_bytes(bytes(comp))
    got = []
    with pytest.raises(StreamError) as err:
        for chunk in iter_decompressed(tmp_path / "c.gz", chunk_size=8192):
            got.append(chunk)
    assert err.value.kind in ("corrupt_gzip", "truncated_gzip")
    # Everything before the damage comes out intact.  (Deflate may emit some garbled bytes before
    # zlib notices; records made of them fail to parse and are counted by the extractor.)
    salvaged = b"".join(got)
    assert salvaged[: len(data) // 4] == data[: len(data) // 4]


def test_missing_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        list(iter_decompressed(tmp_path / "nope.xml.gz"))
