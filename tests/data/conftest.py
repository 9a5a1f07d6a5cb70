from __future__ import annotations

import pytest

from biomamba.data import DataConfig, DatasetConfig

from .synthetic import random_lengths, write_split


@pytest.fixture
def make_cfg():
    """DataConfig factory with small, test-sized defaults."""

    def make(*paths, weights=None, **kw) -> DataConfig:
        weights = weights or [1.0] * len(paths)
        base = dict(seq_len=16, micro_batch_size=4, num_workers=0, shuffle_buffer=8, seed=7, prefetch_factor=2,
                    logical_streams=2)
        base.update(kw)
        datasets = [DatasetConfig(path=str(p), weight=w, name=f"ds{i}") for i, (p, w) in enumerate(zip(paths, weights))]
        cfg = DataConfig(datasets=datasets, **base)
        return cfg.validate()

    return make


@pytest.fixture(scope="session")
def small_split(tmp_path_factory):
    """120 documents of 1..59 tokens in 6 shards."""
    out = tmp_path_factory.mktemp("small") / "train"
    write_split(out, random_lengths(120, seed=1), 20)
    return out
