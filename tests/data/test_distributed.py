"""Several processes with torch.distributed (gloo), as the training engine runs the loader.

Each process plays one global rank of a DP x TP grid: it passes its *DP* rank
to the loader (TP peers share it) and the checks are collective.
"""

import collections
import hashlib

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from biomamba.data import DataConfig, DatasetConfig, build_train_loader, build_val_loader
from biomamba.data.format import read_manifest

from .helpers import json_roundtrip, same_batches, take
from .synthetic import EOS, random_lengths, write_split

L, B = 16, 4


def digest(batches) -> str:
    h = hashlib.sha256()
    for b in batches:
        for k in sorted(b):
            h.update(b[k].numpy().tobytes())
    return h.hexdigest()


def _rank_main(rank, world, tp, train, val, store, n_docs, per_epoch):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        dp_rank, dp_size, tp_rank = rank // tp, world // tp, rank % tp
        cfg = DataConfig(
            datasets=[DatasetConfig(path=train, name="train")], val_path=val, seq_len=L, micro_batch_size=B,
            num_workers=2, logical_streams=2 * dp_size, shuffle_buffer=8, seed=3, prefetch_factor=2,
        ).validate()
        loader = build_train_loader(cfg, dp_rank=dp_rank, dp_size=dp_size, seed=3)
        epoch = take(loader, per_epoch)

        # TP peers see identical batches, DP ranks disjoint ones.
        digests = [None] * world
        dist.all_gather_object(digests, digest(epoch))
        for r in range(world):
            assert (digests[r] == digests[rank]) == (r // tp == dp_rank), f"rank {rank} vs {r}"

        # The DP ranks together read each document of the epoch exactly once.
        counts = collections.Counter(t for b in epoch for t in b["input_ids"].flatten().tolist())
        gathered = [None] * world
        dist.all_gather_object(gathered, counts if tp_rank == 0 else collections.Counter())
        total = sum(gathered, collections.Counter())
        assert total[EOS] == n_docs and all(total[d] == L - 1 for d in range(1, n_docs + 1))
        assert len(total) == n_docs + 1

        # Resume after k batches, in every rank, continues bitwise.
        k = 3
        partial = build_train_loader(cfg, dp_rank=dp_rank, dp_size=dp_size, seed=3)
        take(partial, k)
        resumed = build_train_loader(cfg, dp_rank=dp_rank, dp_size=dp_size, seed=3)
        resumed.load_state_dict(json_roundtrip(partial.state_dict()))
        assert same_batches(take(resumed, per_epoch - k), epoch[k:])

        # Validation: the DP ranks together score the whole split once.
        sums = torch.zeros(3, dtype=torch.int64)
        for b in build_val_loader(cfg, dp_rank=dp_rank, dp_size=dp_size):
            sums += torch.tensor([int(b["bytes"].sum()), int((b["labels"] != -100).sum()), 1])
        if tp_rank:
            sums[:2] = 0
        dist.all_reduce(sums)
        totals = read_manifest(val)["totals"]
        assert sums[0] == totals["bytes"] and sums[1] == totals["tokens"]
        assert sums[2] % world == 0, "every rank ran the same number of validation batches"
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize(
    "world,tp,n_shards,docs_per_shard",
    [(4, 2, 8, 8), (3, 1, 2, 24)],
    ids=["dp2xtp2-shard-level", "dp3-sample-level"],
)
def test_dp_tp_grid(tmp_path, world, tp, n_shards, docs_per_shard):
    n_docs = n_shards * docs_per_shard
    write_split(tmp_path / "train", [L] * n_docs, docs_per_shard)  # one document per window: epochs align with batches
    write_split(tmp_path / "val", random_lengths(45, seed=4, high=70), 9, split="val")
    streams = (world // tp) * 2
    per_epoch = n_docs // streams // B * 2  # batches per DP rank in one epoch (2 streams per rank)
    mp.start_processes(  # fork: the ranks need no fresh interpreter, and it saves seconds per rank
        _rank_main,
        args=(world, tp, str(tmp_path / "train"), str(tmp_path / "val"), str(tmp_path / "store"), n_docs, per_epoch),
        nprocs=world,
        join=True,
        start_method="fork",
    )
