import numpy as np
import pytest
import torch

from biomamba.config import ConfigError
from biomamba.data import build_val_loader
from biomamba.data.format import read_manifest

from .helpers import same_batches
from .synthetic import EOS, doc_tokens, random_lengths, write_split

LENGTHS = random_lengths(57, seed=11, high=80)


@pytest.fixture(scope="module")
def val_split(tmp_path_factory):
    out = tmp_path_factory.mktemp("val") / "val"
    write_split(out, LENGTHS, [10, 0, 20, 27], split="val")  # includes an empty shard
    return out


def rank_batches(cfg, dp_size):
    return [list(build_val_loader(cfg, dp_rank=r, dp_size=dp_size)) for r in range(dp_size)]


@pytest.mark.parametrize("dp_size,workers,batch", [(1, 0, 4), (2, 2, 4), (3, 0, 2), (3, 2, 5)])
def test_every_token_scored_exactly_once(val_split, make_cfg, dp_size, workers, batch):
    cfg = make_cfg(val_split, val_path=str(val_split), num_workers=workers, micro_batch_size=batch)
    per_rank = rank_batches(cfg, dp_size)
    assert len({len(b) for b in per_rank}) == 1, "all DP ranks run the same number of batches"
    assert all(len(b) == len(build_val_loader(cfg, dp_rank=0, dp_size=dp_size)) for b in per_rank)
    manifest = read_manifest(val_split)
    # chunks are contiguous in rank order, and within a rank worker j holds batches j, j+W, ...
    W = max(1, workers)
    chunks = [rb[j::W] for rb in per_rank for j in range(W)]
    labels = torch.cat([b["labels"].flatten() for chunk in chunks for b in chunk])
    scored = labels[labels != -100]
    expected = np.concatenate([doc_tokens(i + 1, n) for i, n in enumerate(LENGTHS)])
    assert scored.tolist() == expected.tolist()
    assert sum(int(b["bytes"].sum()) for rb in per_rank for b in rb) == manifest["totals"]["bytes"]
    assert len(scored) == manifest["totals"]["tokens"]
    for rb in per_rank:
        for b in rb:
            assert b["input_ids"].shape == (batch, 16) and b["labels"].shape == (batch, 16)
            assert all(t.dtype == torch.int64 for t in b.values())
            padded = b["labels"] == -100
            assert (b["input_ids"][:, 1:][padded[:, :-1]] == EOS).all(), "padding inputs are EOS"
            assert (b["bytes"][padded.all(1)] == 0).all()
    assert per_rank[0][0]["input_ids"][0, 0] == EOS, "the split starts with an EOS as context"


def test_same_batches_every_pass_and_for_tp_peers(val_split, make_cfg):
    cfg = make_cfg(val_split, val_path=str(val_split), num_workers=2)
    loader = build_val_loader(cfg, dp_rank=1, dp_size=2)
    first = list(loader)
    assert same_batches(first, list(loader))
    assert same_batches(first, list(build_val_loader(cfg, dp_rank=1, dp_size=2)))  # a TP peer: same DP rank
    assert not same_batches(first, list(build_val_loader(cfg, dp_rank=0, dp_size=2)))


def test_val_path_required(small_split, make_cfg):
    with pytest.raises(ConfigError, match="data.val_path"):
        build_val_loader(make_cfg(small_split), dp_rank=0, dp_size=1)


def test_verify_first_hashes_each_shard_once_per_process(tmp_path, make_cfg, monkeypatch):
    """The engine builds a validation loader per evaluation; shards are hashed only the first time,
    also when the hashing happened in DataLoader workers."""
    import biomamba.data.shard_reader as shard_reader

    split = tmp_path / "v"
    write_split(split, LENGTHS, 20, split="val")
    cfg = make_cfg(split, val_path=str(split), num_workers=2, verify="first")
    first = list(build_val_loader(cfg, dp_rank=0, dp_size=1))
    names = {k[0].rsplit("/", 1)[-1] for k in shard_reader.VERIFIED if k[0].startswith(str(split))}
    assert names == {"shard-000000.tar", "shard-000001.tar", "shard-000002.tar"}

    def no_hashing(path):
        raise AssertionError(f"{path} hashed twice")

    monkeypatch.setattr(shard_reader, "sha256_file", no_hashing)
    assert same_batches(first, list(build_val_loader(cfg, dp_rank=0, dp_size=1)))
    with pytest.raises(AssertionError, match="hashed twice"):
        list(build_val_loader(cfg.replace(verify="always", num_workers=0), dp_rank=0, dp_size=1))
