"""``shard`` writes the same bytes as before the writer's speedups (issue #17), in every configuration.

Pinned twice: by the sha256 of each shard written from a fixed split + committed tokenizer
(recorded with data_prep/stages/shard/shard.py of commit 9b91131, before the rewrite), and against shards
built here the slow, obvious way (one ``encode`` per document, ``np.save``, webdataset's TarWriter).
"""

from __future__ import annotations

import ast
import io
import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds

from biomamba.data.format import doc_key
from biomamba.io import sha256_file
from biomamba.tokenizer import load_tokenizer
from data_prep.config import ShardConfig
from data_prep.stages.shard.shard import shard
from data_prep.stages.shard.shard_workers import ThreadShare

from .shard_fixture import write_split

TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "data_prep" / "shard" / "tokenizer.model"
GOLDEN = {
    "train/shard-000000.tar": "e0d95eeb8e52a9097a087aff31c159abb1024f20231babed6db63ac239b8393b",
    "train/shard-000001.tar": "8c98e0bf846b110b12c7c47350fe9229fd53b7f8fee7fc5c8c329531423e51e4",
    "train/shard-000002.tar": "7dd57530b74a998d073cc3a1198a53ce05bf49f5ff2fd90fefd9f67e70a26175",
    "val/shard-000000.tar": "ef4eac5ea2bb595e185f18429fdf9239a1499871b93bcdf76ab8efd0a679090b",
}


@pytest.fixture(scope="module")
def fixed_split(tmp_path_factory) -> Path:
    return write_split(tmp_path_factory.mktemp("fixed_split"))


def reference_shard(part: Path, tok) -> bytes:
    """The shard format written document by document with webdataset (docs: biomamba/data/format.py)."""
    buf = io.BytesIO()
    w = wds.TarWriter(buf, user="biomamba", group="biomamba", mtime=0)
    for line in part.read_bytes().splitlines():
        try:
            rec = json.loads(line)
            text, doc_id = rec["text"], rec["id"]
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(text, str) or not text:
            continue
        npy = io.BytesIO()
        np.save(npy, np.asarray(tok.encode(text) + [tok.eos_id], dtype=np.uint16), allow_pickle=False)
        info = {"id": doc_id, "bytes": len(text.encode("utf-8"))}
        info.update({k: rec[k] for k in ("source", "year", "license") if rec.get(k) is not None})
        w.write({"__key__": doc_key(doc_id), "tokens.npy": npy.getvalue(),
                 "json": json.dumps(info, sort_keys=True, ensure_ascii=False).encode("utf-8")})
    w.close()
    return buf.getvalue()


@pytest.mark.parametrize("workers,threads,batch_docs", [(1, 1, 7), (2, 2, 512), (3, 1, 1)])
def test_shards_match_the_golden_hashes(fixed_split, tmp_path, workers, threads, batch_docs):
    tok = load_tokenizer(TOKENIZER)
    cfg = ShardConfig(workers=workers, threads=threads, batch_docs=batch_docs)
    stats, splits = shard(fixed_split, tok, tmp_path, cfg, ["train", "val"])
    got = {str(p.relative_to(tmp_path)): sha256_file(p) for p in sorted(tmp_path.glob("*/shard-*.tar"))}
    assert got == GOLDEN
    assert splits == ["train", "val"] and stats.errors == {"bad_json": 2} and stats.dropped == {"empty": 2}
    assert stats.seen == stats.kept + 4


def test_shards_equal_a_document_by_document_reference(fixed_split, tmp_path):
    tok = load_tokenizer(TOKENIZER)
    shard(fixed_split, tok, tmp_path, ShardConfig(workers=1, batch_docs=64), ["train", "val"])
    for name in GOLDEN:
        split, shard_name = name.split("/")
        part = fixed_split / split / shard_name.replace("shard-", "part-").replace(".tar", ".jsonl")
        assert (tmp_path / name).read_bytes() == reference_shard(part, tok), name


def test_shard_workers_does_not_import_shard():
    """No import circle: data_prep.stages.shard.shard imports data_prep.stages.shard.shard_workers, which gets the work function passed in."""
    tree = ast.parse((Path(__file__).resolve().parents[2] / "data_prep" / "stages" / "shard" / "shard_workers.py").read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert modules and not [m for m in modules if m and m.startswith("data_prep")]


def test_idle_workers_cores_go_to_the_last_parts():
    unfinished = multiprocessing.get_context("fork").Value("i", 6)
    share = ThreadShare(cores=8, workers=4, unfinished=unfinished)
    threads = []
    for left in (6, 4, 3, 2, 1, 0):
        unfinished.value = left
        threads.append(share())
    assert threads == [2, 2, 2, 4, 8, 8]
    assert ThreadShare(cores=2, workers=3, unfinished=unfinished)() == 2  # none left: never below 1 worker
