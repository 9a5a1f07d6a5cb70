import numpy as np

from biomamba.data.mixture import MIX_BLOCK, normalised, window_datasets


def test_choices_are_a_pure_function_of_seed_stream_and_window():
    p = normalised([7, 3])
    assert np.allclose(p, [0.7, 0.3])
    a = window_datasets(1, 4, 640, 64, p)
    assert np.array_equal(a, window_datasets(1, 4, 640, 64, p))
    assert not np.array_equal(a, window_datasets(1, 4, 704, 64, p))
    assert not np.array_equal(a, window_datasets(1, 5, 640, 64, p))
    assert window_datasets(1, 4, 10, 8, normalised([1.0])).tolist() == [0] * 8


def test_any_split_of_a_stream_into_calls_gives_the_same_choices():
    """Window n's dataset does not depend on how windows are grouped (micro-batch size, DP size)."""
    p = normalised([0.5, 0.5])
    whole = window_datasets(3, 2, 0, 3 * MIX_BLOCK + 5, p)
    cuts = [0, 1, 7, MIX_BLOCK - 1, MIX_BLOCK + 3, 2 * MIX_BLOCK, 3 * MIX_BLOCK + 5]
    pieces = [window_datasets(3, 2, a, b - a, p) for a, b in zip(cuts, cuts[1:])]
    assert np.array_equal(np.concatenate(pieces), whole)


def test_long_run_shares_follow_the_weights():
    p = normalised([0.5, 0.3, 0.2])
    rows = window_datasets(0, 0, 0, 16000, p)
    assert np.allclose(np.bincount(rows) / len(rows), p, atol=0.015)
