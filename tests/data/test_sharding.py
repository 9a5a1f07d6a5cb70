import pytest

from biomamba.data.order import shard_order
from biomamba.data.sharding import kept, min_docs_per_stream, stream_slices


def owned(docs, order, g, n_streams):
    slices = stream_slices(docs, order, g, n_streams)
    return [(sl.shard, sl.offset + i * sl.stride) for sl in slices for i in range(sl.count)]


@pytest.mark.parametrize("n_shards,n_streams", [(12, 4), (13, 4), (4, 4), (3, 4), (1, 6), (5, 16)])
def test_streams_partition_every_epoch(n_shards, n_streams):
    docs = [7 + (k * 5) % 11 for k in range(n_shards)]
    everything = sorted((k, i) for k in range(n_shards) for i in range(docs[k]))
    for epoch in range(3):
        order = shard_order(0, 1, epoch, n_shards, True)
        parts = [owned(docs, order, g, n_streams) for g in range(n_streams)]
        assert sorted(x for p in parts for x in p) == everything, "no loss, no duplicates"
        assert all(p for p in parts), "no stream starves"


def test_sample_level_split_when_shards_are_fewer_than_streams():
    slices = stream_slices([10, 2], [1, 0], 2, 4)
    # epoch order: shard 1 (epoch documents 0, 1), then shard 0 (epoch documents 2..11):
    # stream 2 keeps epoch documents 2, 6, 10 = documents 0, 4, 8 of shard 0
    assert [(s.shard, s.offset, s.stride, s.count) for s in slices] == [(0, 0, 4, 3)]
    assert [(s.shard, s.offset, s.count) for s in stream_slices([10, 2], [1, 0], 0, 4)] == [(1, 0, 1), (0, 2, 2)]
    assert kept(10, 2, 4) == 2 and kept(3, 2, 4) == 1 and kept(2, 2, 4) == 0


def test_small_shards_still_feed_every_stream():
    """Shards smaller than the number of streams: every stream gets floor or ceil of docs / streams."""
    docs = [57, 57, 57, 57, 57, 33]
    for epoch in range(2):
        order = shard_order(0, 1, epoch, len(docs), True)
        counts = [sum(sl.count for sl in stream_slices(docs, order, g, 64)) for g in range(64)]
        assert sorted(set(counts)) == [4, 5] and sum(counts) == sum(docs)
    assert min_docs_per_stream(docs, 64) == 4


def test_min_docs_per_stream():
    assert min_docs_per_stream([5, 6, 7], 2) == 5
    assert min_docs_per_stream([3], 4) == 0  # stream 3 would never get a document
    assert min_docs_per_stream([3, 1], 4) == 1  # one document each, whatever the shard order
    assert min_docs_per_stream([4], 4) == 1
