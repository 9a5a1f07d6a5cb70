"""Fixtures shared by the data_prep tests: fixture paths, gzip helpers, a tiny trained tokenizer."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from data_prep.common.stats import StageStats


@pytest.fixture(scope="session")
def fx(fixtures_dir) -> Path:
    return fixtures_dir / "data_prep"


def gzip_to(src: Path, dest: Path) -> Path:
    """Deterministic gzip of ``src`` at ``dest``."""
    with open(dest, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(src.read_bytes())
    return dest


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_balanced(stats_file: Path) -> dict:
    """The accounting invariant of a stats.json, checked from the file itself."""
    d = json.loads(Path(stats_file).read_text())
    assert d["seen"] == d["kept"] + sum(d["dropped"].values()) + sum(d["errors"].values()), (stats_file, d)
    assert StageStats.from_dict(d).balanced
    assert "versions" in d and "config" in d
    return d


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """Clean records of the embedded sample (extracted once per session)."""
    from data_prep.config import PubmedConfig
    from data_prep.sources.pubmed.extract_pubmed import extract_pubmed
    from data_prep.synthetic.sample_corpus import BASELINE_NAME, OUT_DIR, UPDATE_NAME

    out = tmp_path_factory.mktemp("small_corpus") / "pubmed.jsonl"
    extract_pubmed([OUT_DIR / BASELINE_NAME, OUT_DIR / UPDATE_NAME], out, PubmedConfig())
    return out


@pytest.fixture(scope="session")
def sample_splits(tmp_path_factory, small_corpus) -> Path:
    """The sample corpus split into several small parts per split."""
    from data_prep.config import SplitConfig
    from data_prep.stages.split.decontam import Exclusions
    from data_prep.stages.split.split import split

    out = tmp_path_factory.mktemp("splits")
    split([small_corpus], out, SplitConfig(fractions={"train": 0.8, "val": 0.2}, shard_mb=0.15), Exclusions())
    return out


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory, sample_splits) -> Path:
    """A small SentencePiece model trained on the sample's train split."""
    from data_prep.config import TokenizerConfig
    from data_prep.stages.tokenizer.train_tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer([sample_splits / "train"], out, TokenizerConfig(vocab_size=1000, threads=1))
    return out / "tokenizer.model"


@pytest.fixture()
def copy_tree(tmp_path):
    def _copy(src: Path, name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(src, dest)
        return dest

    return _copy
