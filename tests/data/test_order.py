import numpy as np
import pytest

from biomamba.data.order import buffered_shuffle_order, doc_order, reorder, rng, shard_order


@pytest.mark.parametrize("n,buf", [(0, 4), (1, 4), (5, 8), (50, 8), (200, 1), (200, 0), (1000, 64)])
def test_buffered_shuffle_is_a_bounded_permutation(n, buf):
    order = buffered_shuffle_order(n, buf, rng(3, 9))
    assert sorted(order.tolist()) == list(range(n))
    # item order[i] was read no later than the (buf + i)-th read: the buffer holds <= buf items
    assert all(order[i] < max(buf, 1) + i for i in range(n))
    if buf <= 1:
        assert order.tolist() == list(range(n))


def test_buffered_shuffle_depends_only_on_its_seed():
    a = buffered_shuffle_order(500, 32, rng(1, 2, 3))
    assert np.array_equal(a, buffered_shuffle_order(500, 32, rng(1, 2, 3)))
    assert not np.array_equal(a, buffered_shuffle_order(500, 32, rng(1, 2, 4)))
    assert not np.array_equal(a, np.arange(500))


def test_shard_order_is_a_pure_function_of_seed_and_epoch():
    e0 = shard_order(5, 11, 0, 40, True)
    assert np.array_equal(e0, shard_order(5, 11, 0, 40, True))
    assert not np.array_equal(e0, shard_order(5, 11, 1, 40, True)), "epochs must reshuffle"
    assert not np.array_equal(e0, shard_order(6, 11, 0, 40, True))
    assert sorted(e0.tolist()) == list(range(40))
    assert shard_order(5, 11, 3, 40, False).tolist() == list(range(40))
    assert doc_order(5, 1, 0, 2, 0, 30, 8, False).tolist() == list(range(30))


class Counting:
    """An (index, item) source that records how far it has been read."""

    def __init__(self, n):
        self.n, self.read = n, 0

    def __iter__(self):
        for i in range(self.n):
            self.read = i + 1
            yield i, f"item{i}"


@pytest.mark.parametrize("start", [0, 1, 37, 99, 100])
def test_reorder_streams_into_order_with_bounded_memory(start):
    order = buffered_shuffle_order(100, 10, rng(0))
    src = Counting(100)
    got = []
    for j, item in reorder(iter(src), order, start):
        got.append((j, item))
        assert src.read - j <= 11  # items read minus items emitted (incl. the current one): buffer bound
    assert got == [(j, f"item{order[j]}") for j in range(start, 100)]


def test_reorder_rejects_sources_of_the_wrong_length():
    order = np.arange(5)
    with pytest.raises(IndexError, match="expected 5"):
        list(reorder(iter(Counting(4)), order))
    with pytest.raises(IndexError, match="beyond"):
        list(reorder(iter(Counting(6)), order))
