import numpy as np
import pytest

from biomamba.data.packing import Doc, Packer, credited_bytes, token_bytes


def make_docs(n, seed=0):
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        t = int(rng.integers(1, 40))
        tokens = np.append(rng.integers(1, 1000, t - 1), 0).astype(np.uint16)
        docs.append(Doc(tokens, int(rng.integers(0, 7 * t)), (0, 0, i)))
    return docs


def reference(docs):
    stream = np.concatenate([d.tokens for d in docs]).astype(np.int64)
    per_token = np.concatenate([token_bytes(d.nbytes, len(d.tokens)) for d in docs])
    return stream, per_token


@pytest.mark.parametrize("nbytes,ntok", [(0, 1), (5, 1), (7, 3), (1000, 7), (3, 10)])
def test_apportionment_is_exact(nbytes, ntok):
    per = token_bytes(nbytes, ntok)
    assert per.sum() == nbytes and (per >= 0).all() and per.max() - per.min() <= 1
    assert credited_bytes(ntok, nbytes, ntok) == nbytes and credited_bytes(0, nbytes, ntok) == 0


def test_spans_are_overlapping_windows_of_the_stream_with_exact_bytes():
    docs = make_docs(300)
    stream, per_token = reference(docs)
    L = 16
    packer = Packer(iter(docs))
    rng = np.random.default_rng(1)
    pos = 0
    while pos + 4 * L + 1 <= len(stream):
        n = int(rng.integers(1, 5))
        span, row_bytes = packer.take(n, L)
        assert np.array_equal(span, stream[pos : pos + n * L + 1])
        for i in range(n):  # targets of window i are stream positions pos+i*L+1 .. pos+i*L+L
            assert row_bytes[i] == per_token[pos + i * L + 1 : pos + i * L + L + 1].sum()
        pos += n * L


def test_resuming_from_a_position_continues_identically():
    docs = make_docs(200, seed=3)
    L = 8
    full = Packer(iter(docs))
    for _ in range(17):
        full.take(3, L)
    (_, _, d), off = full.position
    rest = Packer(iter(docs[d:]), docs[d].pos, off)
    for _ in range(20):
        a, ab = full.take(2, L)
        b, bb = rest.take(2, L)
        assert np.array_equal(a, b) and np.array_equal(ab, bb)


def test_running_out_returns_a_short_span_and_zero_bytes_for_empty_windows():
    docs = make_docs(5, seed=4)
    stream, per_token = reference(docs)
    span, row_bytes = Packer(iter(docs)).take(len(stream) // 4 + 3, 4)
    assert np.array_equal(span, stream)
    assert row_bytes.sum() == per_token[1:].sum()
    assert (row_bytes[-2:] == 0).all()
