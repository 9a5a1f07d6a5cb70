"""Typed configuration of the preparation chain (``configs/data/*.yaml``).

Each stage has its own section; the command-line subcommands' flags are generated from the
same dataclasses (:func:`biomamba.config.cli.add_flags`, help texts below), so ``run`` and the
individual commands apply the same rules.  Relative paths are relative to the current directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from dataclasses import dataclass, field
from typing import Literal

from biomamba.config import Config, ConfigError
from biomamba.config.cli import setting


def csv_list(value: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` (a comma list flag)."""
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_fractions(text: str) -> dict[str, float]:
    """``"train=0.98,val=0.01"`` -> ``{"train": 0.98, "val": 0.01}`` (the ``--fractions`` flag)."""
    out = {}
    for item in text.split(","):
        if "=" not in item:
            raise ConfigError(f"--fractions: {item!r} should look like train=0.98")
        k, v = item.split("=", 1)
        out[k.strip()] = float(v)
    return out


@dataclass
class DownloadConfig(Config):
    enabled: bool = False
    kind: Literal["baseline", "updates"] = setting("baseline")
    base_url: str = setting("https://ftp.ncbi.nlm.nih.gov/pubmed/")
    limit: int | None = setting(None, help="only the first N files (for trials)")
    retries: int = setting(5)
    timeout_s: float = 60.0

    def check(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ConfigError("download.limit: must be >= 1 or null (all files)")
        if self.retries < 0:
            raise ConfigError("download.retries: must be >= 0")


@dataclass
class PubmedConfig(Config):
    inputs: list[str] = setting(default_factory=list, positional=True, metavar="FILE",
                                help="files (or folders) in order: baseline, then updates")
    languages: list[str] = setting(default_factory=lambda: ["eng"], type=csv_list,
                                   help="comma list of codes, or 'any' (default: eng)")
    keep_retracted: bool = setting(False)
    keep_title_only: bool = setting(False, help="keep citations without abstract text")
    min_chars: int = setting(200)

    def check(self) -> None:
        if self.min_chars < 0:
            raise ConfigError("pubmed.min_chars: must be >= 0")
        if not self.languages:
            raise ConfigError("pubmed.languages: give codes like [eng] or [any] to keep every language")

    @property
    def any_language(self) -> bool:
        return "any" in self.languages

    def rules(self) -> dict:
        """The settings that decide which citations are kept (recorded with every part)."""
        return {"languages": sorted(self.languages), "keep_retracted": self.keep_retracted,
                "keep_title_only": self.keep_title_only, "min_chars": self.min_chars}


@dataclass
class PmcConfig(Config):
    inputs: list[str] = setting(default_factory=list, positional=True, metavar="FILE_OR_TAR")
    licenses: Literal["any", "commercial"] = setting("any")
    languages: list[str] = setting(default_factory=lambda: ["eng"], type=csv_list)
    keep_notices: bool = setting(False, help="keep corrections/retraction notices")
    require_body: bool = setting(True, flag="--allow-no-body", help="keep articles without body text")
    min_chars: int = setting(500)


@dataclass
class CleanConfig(Config):
    exact_dedup: bool = setting(True)
    near_dedup: bool = setting(True)
    near_dup_threshold: float = setting(0.85)
    num_perm: int = setting(128)
    shingle_words: int = setting(5)
    prefer: Literal["fulltext", "abstract"] = setting("fulltext")

    def check(self) -> None:
        if not 0.0 < self.near_dup_threshold <= 1.0:
            raise ConfigError("clean.near_dup_threshold: must be in (0, 1], e.g. 0.9")
        if self.num_perm < 16:
            raise ConfigError("clean.num_perm: use at least 16 permutations (128 is typical)")
        if self.shingle_words < 1:
            raise ConfigError("clean.shingle_words: must be >= 1")


@dataclass
class SplitConfig(Config):
    fractions: dict[str, float] = setting(default_factory=lambda: {"train": 0.98, "val": 0.01, "test": 0.01},
                                          cli_default="train=0.98,val=0.01,test=0.01", convert=parse_fractions)
    salt: str = setting("biomamba-split-v1")
    exclude_pmids: list[str] = setting(default_factory=list, action="append", metavar="FILE")
    exclude_bioasq: list[str] = setting(default_factory=list, action="append", metavar="FILE")
    exclude_pubmedqa: list[str] = setting(default_factory=list, action="append", metavar="FILE")
    # Decontamination is the default: the evaluation sets this project ships (data_prep.stages.split.decontam.SHIPPED_EVAL_SETS)
    # are removed from every split on top of the files named above; false only to study contamination.
    exclude_shipped: bool = setting(True, flag="--keep-shipped-eval",
                                    help="do not remove the evaluation sets the project ships (removed by default)")
    shard_mb: float = setting(256.0, help="approximate size of each later token shard")

    def exclusion_files(self) -> dict[str, list[str]]:
        """Keyword arguments of :func:`data_prep.stages.split.decontam.load_exclusions`: named files plus the shipped sets."""
        from data_prep.stages.split.decontam import SHIPPED_EVAL_SETS

        shipped = SHIPPED_EVAL_SETS if self.exclude_shipped else {"pmids": [], "bioasq": [], "pubmedqa": []}
        return {"pmid_files": shipped["pmids"] + list(self.exclude_pmids),
                "bioasq_files": shipped["bioasq"] + list(self.exclude_bioasq),
                "pubmedqa_files": shipped["pubmedqa"] + list(self.exclude_pubmedqa)}

    def check(self) -> None:
        if not self.fractions:
            raise ConfigError("split.fractions: give at least one split, e.g. {train: 1.0}")
        bad = [k for k, v in self.fractions.items() if v < 0 or not k.isidentifier()]
        if bad:
            raise ConfigError(f"split.fractions: bad entries {bad}; names must be identifiers, fractions >= 0")
        total = sum(self.fractions.values())
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"split.fractions: must sum to 1 (got {total:g})")
        if self.shard_mb <= 0:
            raise ConfigError("split.shard_mb: must be > 0")
        for key in ("exclude_pmids", "exclude_bioasq", "exclude_pubmedqa"):
            missing = [f for f in getattr(self, key) if not Path(f).is_file()]
            if missing:
                raise ConfigError(f"split.{key}: {missing[0]} does not exist; download that evaluation set first "
                                  f"(decontamination removes its documents) or drop it from split.{key}")


@dataclass
class TokenizerConfig(Config):
    path: str | None = None  # use an existing tokenizer (.model / tokenizer.json) instead of training
    vocab_size: int = setting(32000)
    sample_docs: int = setting(1_000_000)
    max_sentences: int = setting(5_000_000)
    max_sentence_chars: int = 8192
    character_coverage: float = 0.9999
    threads: int = setting(0)

    def check(self) -> None:
        if self.path is None and self.vocab_size < 300:
            raise ConfigError("tokenizer.vocab_size: must be >= 300 (byte fallback alone needs 256 ids + specials)")
        if self.sample_docs < 1 or self.max_sentences < 1:
            raise ConfigError("tokenizer.sample_docs / max_sentences: must be >= 1")


@dataclass
class ShardConfig(Config):
    splits: list[str] = setting(default_factory=list, type=csv_list,  # empty: every split in split.fractions
                                help="comma list (default: all in the input)")
    batch_docs: int = setting(256)
    # cores to use (0: all available to this process)
    threads: int = setting(0, help="cores to use (default: all this process may use)")
    # parts sharded at once, one process each (0: min(cores, parts))
    workers: int = setting(0, help="parts sharded at once, one process each (default: auto)")
    verify_existing: bool = setting(False, help="re-hash finished shards before skipping them")

    def check(self) -> None:
        if self.batch_docs < 1:
            raise ConfigError("shard.batch_docs: must be >= 1")


@dataclass
class PrepConfig(Config):
    out_dir: str = "runs/data/prep"
    download: DownloadConfig = field(default_factory=DownloadConfig)
    pubmed: PubmedConfig = field(default_factory=PubmedConfig)
    pmc: PmcConfig = field(default_factory=PmcConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)

    def check(self) -> None:
        if not self.pubmed.inputs and not self.pmc.inputs and not self.download.enabled:
            raise ConfigError("pubmed.inputs / pmc.inputs: nothing to prepare; list input files or enable download")
        unknown = [s for s in self.shard.splits if s not in self.split.fractions]
        if unknown:
            raise ConfigError(f"shard.splits: {unknown} are not in split.fractions {list(self.split.fractions)}")


def fingerprint(obj) -> str:
    """Stable short hash of a config fragment (used to decide whether outputs are up to date)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
