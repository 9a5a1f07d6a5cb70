import pytest

from biomamba.data.state import LoaderStateError, check_state, describe_changes, manifest_digest


def manifest(**changes):
    m = {
        "dtype": "uint16",
        "eos_id": 0,
        "tokenizer": {"hash": "abc", "path": "/old/place/tok.model"},
        "shards": [{"name": "shard-000000.tar", "sha256": "f" * 64, "documents": 3, "tokens": 30, "bytes": 99}],
        "config": {"out_dir": "/old/place"},
    }
    m.update(changes)
    return m


def test_digest_covers_content_not_location():
    base = manifest_digest(manifest())
    assert manifest_digest(manifest(config={"out_dir": "/new/place"})) == base
    assert manifest_digest(manifest(tokenizer={"hash": "abc", "path": "/new/tok.model"})) == base
    assert manifest_digest(manifest(eos_id=2)) != base
    assert manifest_digest(manifest(tokenizer={"hash": "xyz"})) != base
    other = manifest()
    other["shards"] = [dict(other["shards"][0], sha256="e" * 64)]
    assert manifest_digest(other) != base


def test_changes_are_listed_with_hints():
    saved = {"seq_len": 2048, "logical_streams": 64, "seed": 1, "gone": 1}
    now = {"seq_len": 4096, "logical_streams": 32, "seed": 1, "new": 2}
    changes = describe_changes(saved, now)
    assert changes[1].startswith("logical_streams: 64 -> 32 (")
    assert "seq_len: 2048 -> 4096" in changes and "gone: 1 -> <absent>" in changes and "new: <absent> -> 2" in changes
    assert describe_changes(saved, dict(saved)) == []


def test_check_state_rejects_foreign_objects():
    with pytest.raises(LoaderStateError, match="not a loader state"):
        check_state([1, 2])
    with pytest.raises(LoaderStateError, match="lacks 'streams'"):
        check_state({"format": "biomamba-loader-state/2", "fingerprint": {}, "position": 0})
    with pytest.raises(LoaderStateError, match="not a loader state"):
        check_state({"format": "biomamba-loader-state/1", "fingerprint": {}, "batches": 0, "streams": []})
