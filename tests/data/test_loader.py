import collections
import math

import numpy as np
import pytest
import torch

from biomamba.config import ConfigError
from biomamba.data import LoaderStateError, ShardCorruptError, ShardFormatError, build_train_loader

from .helpers import json_roundtrip, same_batches, take
from .synthetic import EOS, random_lengths, write_split

L, B = 16, 4


@pytest.fixture(scope="module")
def mix_splits(tmp_path_factory):
    """A 120-document split and a 25-document one (ids from 10000) that cycles epochs quickly."""
    root = tmp_path_factory.mktemp("mix")
    write_split(root / "a", random_lengths(120, seed=1), 20)
    write_split(root / "b", random_lengths(25, seed=2, high=30), 5, first_id=10000)
    return root / "a", root / "b"


def aligned_split(root, n_shards, docs_per_shard):
    """Documents of exactly seq_len tokens: each window's inputs are one whole document."""
    write_split(root, [L] * (n_shards * docs_per_shard), docs_per_shard)
    return root


def test_batches_have_the_contract_shapes(small_split, make_cfg):
    batch = next(iter(build_train_loader(make_cfg(small_split, logical_streams=1), dp_rank=0, dp_size=1)))
    assert set(batch) == {"input_ids", "labels", "bytes"}
    assert batch["input_ids"].shape == batch["labels"].shape == (B, L) and batch["bytes"].shape == (B,)
    assert all(t.dtype == torch.int64 and t.is_contiguous() for t in batch.values())
    assert torch.equal(batch["input_ids"][:, 1:], batch["labels"][:, :-1])  # labels are next tokens
    assert torch.equal(batch["labels"][:-1, -1], batch["input_ids"][1:, 0])  # windows continue each other
    assert (batch["labels"] != -100).all() and (batch["bytes"] > 0).any()


def test_same_seed_same_batches_other_seed_other_batches(small_split, make_cfg):
    cfg = make_cfg(small_split)
    a = take(build_train_loader(cfg, dp_rank=0, dp_size=1), 20)
    assert same_batches(a, take(build_train_loader(cfg, dp_rank=0, dp_size=1), 20))
    assert not same_batches(a, take(build_train_loader(cfg, dp_rank=0, dp_size=1, seed=8), 20))
    override = take(build_train_loader(cfg, dp_rank=0, dp_size=1, seed=8), 20)
    assert same_batches(override, take(build_train_loader(cfg.replace(seed=8), dp_rank=0, dp_size=1), 20))
    assert not same_batches(a, take(build_train_loader(cfg, dp_rank=1, dp_size=2), 20))


@pytest.mark.parametrize("n_shards,docs_per_shard", [(8, 8), (2, 32)], ids=["shard-level", "sample-level"])
def test_streams_cover_each_epoch_exactly_once(tmp_path, make_cfg, n_shards, docs_per_shard):
    """4 streams (2 DP ranks x 2): each stream owns 16 docs = 4 batches per epoch."""
    split = aligned_split(tmp_path / "s", n_shards, docs_per_shard)
    cfg = make_cfg(split, logical_streams=4)
    epoch_orders, states = [], {}
    for epoch in range(2):
        ids = collections.Counter()
        order = []
        for rank in range(2):
            loader = build_train_loader(cfg, dp_rank=rank, dp_size=2)
            if epoch:
                loader.load_state_dict(states[rank])
            batches = take(loader, 8)
            states[rank] = loader.state_dict()
            positions = [pos for s in states[rank]["streams"].values() for pos in s["datasets"].values()]
            assert all(pos == [epoch + 1, 0, 0, 0] for pos in positions)
            for b in batches:
                ids.update(b["input_ids"].flatten().tolist())
                order += b["input_ids"][:, 0].tolist()
        n_docs = n_shards * docs_per_shard
        assert ids[EOS] == n_docs and all(ids[d] == L - 1 for d in range(1, n_docs + 1)), "each document once per epoch"
        epoch_orders.append(order)
    assert sorted(epoch_orders[0]) == sorted(epoch_orders[1]) and epoch_orders[0] != epoch_orders[1], "epochs reshuffle"


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("k", [1, 7, 22])
def test_resume_is_exact(mix_splits, make_cfg, workers, k):
    cfg = make_cfg(*mix_splits, weights=[0.6, 0.4], num_workers=workers, logical_streams=4)
    n = 40  # crosses epochs of both datasets
    full = take(build_train_loader(cfg, dp_rank=1, dp_size=2), n)
    first = build_train_loader(cfg, dp_rank=1, dp_size=2)
    head = take(first, k)
    state = json_roundtrip(first.state_dict())
    assert state["position"] == k * B * 2  # global windows: both ranks at k batches
    resumed = build_train_loader(cfg, dp_rank=1, dp_size=2)
    resumed.load_state_dict(state)
    assert same_batches(head + take(resumed, n - k), full)


def test_order_does_not_depend_on_num_workers(mix_splits, make_cfg):
    cfg = make_cfg(*mix_splits, logical_streams=2)
    ref = take(build_train_loader(cfg.replace(num_workers=0), dp_rank=0, dp_size=1), 25)
    two = build_train_loader(cfg.replace(num_workers=2), dp_rank=0, dp_size=1)
    head = take(two, 9)
    one = build_train_loader(cfg.replace(num_workers=1), dp_rank=0, dp_size=1)
    one.load_state_dict(two.state_dict())  # resume with fewer workers
    assert same_batches(head + take(one, 16), ref)


def test_iterating_again_continues_after_the_last_delivered_batch(small_split, make_cfg):
    cfg = make_cfg(small_split, num_workers=2, logical_streams=2)
    ref = take(build_train_loader(cfg, dp_rank=0, dp_size=1), 12)
    loader = build_train_loader(cfg, dp_rank=0, dp_size=1)
    got = take(loader, 5) + take(loader, 4) + take(loader, 3)  # each take abandons prefetched batches
    assert same_batches(got, ref) and loader.batches_done == 12


def test_max_tokens_budget_ends_iteration_on_every_rank(small_split, make_cfg):
    cfg = make_cfg(small_split, max_tokens=1000, num_workers=2)
    expected = math.ceil(1000 / (B * L * 2))
    for rank in range(2):
        loader = build_train_loader(cfg, dp_rank=rank, dp_size=2)
        assert loader.num_batches == expected and len(list(loader)) == expected
        assert list(loader) == []
    loader = build_train_loader(cfg, dp_rank=0, dp_size=2)
    take(loader, 3)
    resumed = build_train_loader(cfg, dp_rank=0, dp_size=2)
    resumed.load_state_dict(loader.state_dict())
    assert len(list(resumed)) == expected - 3
    unlimited = build_train_loader(cfg.replace(max_tokens=None), dp_rank=0, dp_size=2)
    assert unlimited.num_batches is None and len(take(unlimited, 3 * expected)) == 3 * expected


def test_mixture_proportions(mix_splits, make_cfg):
    cfg = make_cfg(*mix_splits, weights=[0.7, 0.3], logical_streams=2)
    rows = [int(r[0] >= 10000) for b in take(build_train_loader(cfg, dp_rank=0, dp_size=1), 250) for r in b["labels"]]
    share = sum(rows) / len(rows)
    sigma = math.sqrt(0.3 * 0.7 / len(rows))
    assert abs(share - 0.3) < 4 * sigma, share
    windows = [b["labels"] for b in take(build_train_loader(cfg, dp_rank=0, dp_size=1), 50)]
    mixed = [((w > 0) & (w < 10000)).any(1) & (w >= 10000).any(1) for w in windows]
    assert not any(m.any() for m in mixed), "a window never mixes datasets"


def test_fingerprint_refuses_changed_settings(small_split, mix_splits, make_cfg):
    cfg = make_cfg(small_split)
    loader = build_train_loader(cfg, dp_rank=0, dp_size=2)
    take(loader, 3)
    state = json_roundtrip(loader.state_dict())
    for other, expect in [
        (build_train_loader(cfg.replace(seq_len=32), dp_rank=0, dp_size=2), r"seq_len: 16 -> 32"),
        (
            build_train_loader(make_cfg(mix_splits[1]), dp_rank=0, dp_size=2),
            r"datasets\.ds0\.manifest: \w+ \(6 shards.* -> \w+ \(5 shards",
        ),
        (build_train_loader(cfg.replace(shuffle_buffer=4), dp_rank=0, dp_size=2), r"shuffle_buffer: 8 -> 4"),
    ]:
        with pytest.raises(LoaderStateError, match=expect) as err:
            other.load_state_dict(state)
        assert "allow_mismatch=True" in str(err.value)
    same_content = build_train_loader(make_cfg(mix_splits[0]), dp_rank=0, dp_size=2)
    same_content.load_state_dict(state)  # an identical copy elsewhere (moved data) resumes
    fine = build_train_loader(cfg.replace(num_workers=1, verify="never", max_tokens=10**6), dp_rank=0, dp_size=2)
    fine.load_state_dict(state)  # settings outside the fingerprint may change
    with pytest.raises(LoaderStateError, match=r"logical_streams: 2 -> 4 \(the number of logical streams fixes"):
        build_train_loader(cfg.replace(logical_streams=4), dp_rank=0, dp_size=2).load_state_dict(state)
    with pytest.raises(LoaderStateError, match=r"lacks logical streams \[1\] .* pass the states of all ranks"):
        build_train_loader(cfg, dp_rank=1, dp_size=2).load_state_dict(state)  # rank 0's state only
    with pytest.raises(LoaderStateError, match="not a loader state"):
        fine.load_state_dict({"batches": 3})


def test_allow_mismatch_restarts_the_current_epoch(small_split, make_cfg):
    cfg = make_cfg(small_split, logical_streams=1)
    loader = build_train_loader(cfg, dp_rank=0, dp_size=1)
    take(loader, 70)  # ~1.2 epochs of 3702 tokens at 64 tokens per batch
    state = loader.state_dict()
    assert loader.epochs() == {"ds0": 1}
    other = build_train_loader(cfg.replace(seq_len=8), dp_rank=0, dp_size=1)
    with pytest.warns(UserWarning, match="seq_len: 16 -> 8"):
        other.load_state_dict(state, allow_mismatch=True)
    assert other.batches_done == 70
    assert other.state_dict()["streams"] == {"0": {"windows": 280, "datasets": {"ds0": [1, 0, 0, 0]}}}
    fresh_epoch1 = build_train_loader(cfg.replace(seq_len=8), dp_rank=0, dp_size=1)
    epoch1 = {"0": {"windows": 280, "datasets": {"ds0": [1, 0, 0, 0]}}}
    fresh_epoch1.load_state_dict({**fresh_epoch1.state_dict(), "position": 280, "streams": epoch1})
    assert same_batches(take(other, 3), take(fresh_epoch1, 3))


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_shard_stops_training_with_its_name(tmp_path, make_cfg, workers):
    split = tmp_path / "c"
    write_split(split, random_lengths(40, seed=5), 10)
    data = bytearray((split / "shard-000002.tar").read_bytes())
    data[2000] ^= 0xFF
    (split / "shard-000002.tar").write_bytes(bytes(data))
    loader = build_train_loader(make_cfg(split, num_workers=workers, logical_streams=2), dp_rank=0, dp_size=1)
    with pytest.raises(ShardCorruptError, match=r"shard-000002\.tar: sha256"):
        take(loader, 100)


def test_too_little_data_for_the_streams_is_refused(tmp_path, make_cfg):
    split = tmp_path / "tiny"
    write_split(split, [5, 5, 5], 3)
    with pytest.raises(ShardFormatError, match=r"3 documents in 1 shards cannot feed data\.logical_streams=4"):
        build_train_loader(make_cfg(split, logical_streams=4), dp_rank=0, dp_size=2)
    with pytest.raises(ConfigError, match=r"data\.logical_streams: 4 is not a multiple of the data-parallel size 3"):
        build_train_loader(make_cfg(split, logical_streams=4), dp_rank=0, dp_size=3)
    with pytest.raises(ValueError, match="dp_rank=2, dp_size=2"):
        build_train_loader(make_cfg(split), dp_rank=2, dp_size=2)
    with pytest.raises(ConfigError, match="seed"):
        build_train_loader(make_cfg(split), dp_rank=0, dp_size=1, seed=-1)


def test_state_is_small_and_json_serialisable(mix_splits, make_cfg):
    loader = build_train_loader(make_cfg(*mix_splits, logical_streams=4), dp_rank=0, dp_size=1)
    take(loader, 10)
    state = loader.state_dict()
    assert json_roundtrip(state) == state and len(str(state)) < 2000
    assert np.array(state["streams"]["0"]["datasets"]["ds0"]).shape == (4,)


@pytest.mark.slow
def test_spawned_workers_give_the_same_batches(mix_splits, make_cfg):
    """The work handed to workers pickles (spawn/forkserver), and the order stays the same."""
    cfg = make_cfg(*mix_splits, weights=[0.5, 0.5], logical_streams=2)
    ref = take(build_train_loader(cfg, dp_rank=0, dp_size=1), 6)
    spawned = build_train_loader(cfg.replace(num_workers=2, worker_start_method="spawn"), dp_rank=0, dp_size=1)
    assert same_batches(take(spawned, 6), ref)
