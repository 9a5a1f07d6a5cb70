import numpy as np

from biomamba.data.mixture import batch_rows, normalised


def test_rows_are_a_pure_function_of_seed_stream_and_batch():
    p = normalised([7, 3])
    assert np.allclose(p, [0.7, 0.3])
    a = batch_rows(1, 4, 10, 64, p)
    assert np.array_equal(a, batch_rows(1, 4, 10, 64, p))
    assert not np.array_equal(a, batch_rows(1, 4, 11, 64, p))
    assert not np.array_equal(a, batch_rows(1, 5, 10, 64, p))
    assert batch_rows(1, 4, 10, 8, normalised([1.0])).tolist() == [0] * 8


def test_long_run_shares_follow_the_weights():
    p = normalised([0.5, 0.3, 0.2])
    rows = np.concatenate([batch_rows(0, 0, n, 8, p) for n in range(2000)])
    assert np.allclose(np.bincount(rows) / len(rows), p, atol=0.015)
