"""The global order does not depend on the data-parallel layout, and a resume under another
layout continues at the exact global window (no window twice, none skipped, budget kept)."""

from __future__ import annotations

import collections
import itertools
import json
import math

import pytest
import torch

from biomamba.data import build_train_loader

from .helpers import json_roundtrip
from .synthetic import EOS, random_lengths, write_split

L = 16


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """160 documents of exactly L tokens in 8 shards: one window's inputs = one whole document."""
    out = tmp_path_factory.mktemp("elastic") / "train"
    write_split(out, [L] * 160, 20)
    return out


def windows(cfg, dp, mb, n_batches, states=None, workers=0):
    """{global window index: input_ids row} of ``n_batches`` micro-batches on each of ``dp`` ranks."""
    c = cfg.replace(micro_batch_size=mb, num_workers=workers)
    loaders = [build_train_loader(c, dp_rank=r, dp_size=dp) for r in range(dp)]
    if states is not None:
        for ld in loaders:
            ld.load_state_dict(states)
    out = {}
    for r, ld in enumerate(loaders):
        first = ld._batches
        for k, batch in enumerate(itertools.islice(iter(ld), n_batches)):
            for i, w in enumerate(ld.layout.batch_windows(first + k)):
                assert w not in out, f"window {w} delivered twice"
                out[w] = batch["input_ids"][i]
    return out, [json_roundtrip(ld.state_dict()) for ld in loaders]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[w], b[w]) for w in a)


@pytest.mark.parametrize("workers", [0, 2])
def test_global_order_is_the_same_for_any_dp_size(split, make_cfg, workers):
    cfg = make_cfg(split, logical_streams=4)
    ref, _ = windows(cfg, 1, 8, 5)
    assert sorted(ref) == list(range(40))
    for dp, mb in [(2, 4), (4, 2), (4, 1)]:
        got, _ = windows(cfg, dp, mb, 40 // (dp * mb), workers=workers)
        assert same(got, ref), (dp, mb)


@pytest.mark.parametrize("before,after", [((2, 4), (1, 8)), ((1, 8), (2, 4)), ((1, 4), (4, 2)), ((4, 1), (2, 2))])
def test_resume_under_another_layout_continues_at_the_global_position(split, make_cfg, before, after):
    cfg = make_cfg(split, logical_streams=4, shuffle_buffer=4, seed=11)
    ref, _ = windows(cfg, 1, 4, 30)  # 120 windows
    (dp0, mb0), (dp1, mb1) = before, after
    head, states = windows(cfg, dp0, mb0, 3)
    assert {s["position"] for s in states} == {3 * dp0 * mb0}
    n_left = (120 - 3 * dp0 * mb0) // (dp1 * mb1)
    tail, _ = windows(cfg, dp1, mb1, n_left, states=states, workers=2)
    assert not head.keys() & tail.keys(), "no window twice"
    got = {**head, **tail}
    assert sorted(got) == list(range(len(got))) and len(got) > 110, "none skipped"
    assert same(got, {w: ref[w] for w in got}), "the same windows as an uninterrupted run"


def test_documents_of_an_epoch_are_read_once_across_a_resize(split, make_cfg):
    cfg = make_cfg(split, logical_streams=8, seed=5)
    head, states = windows(cfg, 2, 4, 7)  # 56 of the epoch's 160 windows
    tail, _ = windows(cfg, 4, 2, 13, states=states)  # the other 104
    ids = collections.Counter(t for row in [*head.values(), *tail.values()] for t in row.tolist())
    assert ids[EOS] == 160 and all(ids[d] == L - 1 for d in range(1, 161)), "each document once per epoch"


def test_single_rank_state_is_not_enough_after_a_resize(split, make_cfg):
    cfg = make_cfg(split, logical_streams=4)
    _, states = windows(cfg, 2, 4, 2)
    with pytest.raises(Exception, match="pass the states of all ranks"):
        build_train_loader(cfg, dp_rank=0, dp_size=1).load_state_dict(states[0])
    with pytest.raises(Exception, match="different global positions"):
        other = {**states[1], "position": states[1]["position"] + 8}
        build_train_loader(cfg, dp_rank=0, dp_size=1).load_state_dict([states[0], other])


def test_max_tokens_budget_is_converted_on_resize(split, make_cfg):
    """The budget counts global windows: a resize neither overruns it nor stops early."""
    cfg = make_cfg(split, logical_streams=4, max_tokens=60 * L)  # 60 windows
    full, _ = windows(cfg, 2, 4, 100)
    assert len(full) == 64  # ceil(60 / 8) global micro-batches of 8 windows
    head, states = windows(cfg, 2, 4, 3)
    loaders = [build_train_loader(cfg.replace(micro_batch_size=2), dp_rank=r, dp_size=2) for r in range(2)]
    for ld in loaders:
        ld.load_state_dict(states)
        assert ld.num_batches == math.ceil((60 - 24) / 4) and ld.batches_done == 24 // 4
    tail, _ = windows(cfg, 1, 8, 100, states=states)
    assert sorted({**head, **tail}) == list(range(64)), "continues to the end of the budget, not past it"
    fine, _ = windows(cfg, 1, 2, 100, states=states)
    assert sorted({**head, **fine}) == list(range(60)), "smaller global micro-batches stop at the budget itself"


def test_document_log_names_each_windows_documents(split, make_cfg, tmp_path):
    cfg = make_cfg(split, logical_streams=4)
    logs = [tmp_path / f"rank{r}.jsonl" for r in range(2)]
    loaders = [build_train_loader(cfg, dp_rank=r, dp_size=2, document_log=logs[r]) for r in range(2)]
    rows = {}
    for ld in loaders:
        for k, batch in enumerate(itertools.islice(iter(ld), 5)):
            for i, w in enumerate(ld.layout.batch_windows(k)):
                rows[w] = batch["labels"][i]
    recs = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    assert sorted(r["window"] for r in recs) == list(range(40))
    for rec in recs:
        targets = rows[rec["window"]].tolist()
        doc_ids = {t for t in targets if t != EOS}
        # documents are [id] * 15 + [EOS]: a window's targets cover the end of one document and the start of the next
        spans = rec["docs"]
        assert sum(end - first for *_, first, end in spans) == L
        assert all(name == "ds0" and epoch == 0 for name, epoch, *_ in spans)
        assert len(doc_ids) <= len(spans)


def test_state_from_before_logical_streams_restarts_its_epochs_only_when_allowed(split, make_cfg):
    """Format /1 (per-rank streams): refused with the changes listed, or restarted under allow_mismatch."""
    v1 = {"format": "biomamba-loader-state/1", "batches": 30,
          "fingerprint": {"seq_len": L, "micro_batch_size": 4, "seed": 7, "shuffle": True, "shuffle_buffer": 8,
                          "streams_per_rank": 1, "dp_size": 2, "dp_rank": 1, "datasets": ["ds0"]},
          "streams": [{"datasets": {"ds0": [1, 3, 2, 5]}}]}
    loader = build_train_loader(make_cfg(split, logical_streams=4), dp_rank=0, dp_size=1)
    with pytest.raises(Exception, match=r"logical_streams: <absent> -> 4.*allow_loader_mismatch=true"):
        loader.load_state_dict(v1)
    with pytest.warns(UserWarning, match="resuming the loader inexactly"):
        loader.load_state_dict(v1, allow_mismatch=True)
    assert loader.position == 30 * 4 * 2 and loader.epochs() == {"ds0": 1}
    assert all(s["datasets"]["ds0"] == [1, 0, 0, 0] for s in loader.state_dict()["streams"].values())
