"""Loader configuration (the ``data:`` section of a training config).

Only fields that change *which tokens land in which batch* enter the resume
fingerprint (see :mod:`biomamba.data.state`); ``micro_batch_size``,
``num_workers``, ``verify``, ``prefetch_factor``, ``worker_start_method``,
``val_*``, ``max_tokens`` and the number of data-parallel ranks can change
between a checkpoint and its resume without breaking exactness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from biomamba.config import Config, ConfigError


@dataclass
class DatasetConfig(Config):
    """One prepared split (a folder holding ``manifest.json``) in the training mixture."""

    path: str = ""
    # Fraction of training windows drawn from this dataset (normalised over the mixture).
    weight: float = 1.0
    # Stable name used in loader states and messages; default: "<parent>/<folder>" of path.
    name: str = ""

    def resolved_name(self) -> str:
        if self.name:
            return self.name
        p = Path(self.path)
        if p.name == "manifest.json":
            p = p.parent
        return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


@dataclass
class DataConfig(Config):
    """Streaming token loader settings; see docs/data_loader.md for the semantics of each key."""

    datasets: list[DatasetConfig] = field(default_factory=list)
    # Validation split folder (manifest.json + shards); None: no validation loader.
    val_path: str | None = None
    seq_len: int = 2048
    micro_batch_size: int = 8
    # Validation micro-batch; None: micro_batch_size.
    val_micro_batch_size: int | None = None
    # DataLoader worker processes per DP rank (0: read in the training process); at most
    # logical_streams / dp_size are used (a worker serves whole streams).
    num_workers: int = 2
    # Logical read streams of the whole job; fixes the data order whatever the number of DP
    # ranks (see biomamba/data/layout.py).  Must be a multiple of every DP size the run uses
    # (64: 1, 2, 4, ..., 64 ranks); every stream needs a document of each dataset per epoch.
    logical_streams: int = 64
    # Debug: append the documents behind every delivered window to <run_dir>/documents/
    # rank*.jsonl (tests count them to prove resumes neither replay nor skip data).
    log_documents: bool = False
    shuffle: bool = True
    # Documents held by each stream's in-shard shuffle buffer (<= 1: no in-shard shuffle).
    shuffle_buffer: int = 1024
    seed: int = 1234
    # sha256 of each shard against the manifest: on every open, on first open per process, or never.
    verify: Literal["always", "first", "never"] = "first"
    # Training budget in tokens summed over all DP ranks; None: iterate forever.
    max_tokens: int | None = None
    prefetch_factor: int = 4
    # How DataLoader workers start.  Workers are started anew at every iter() (the start
    # position changes), so fork's ~ms start matters; spawn/forkserver re-import torch
    # (seconds per worker).  Inside processes made by torch.multiprocessing.spawn the
    # platform default is already "spawn", hence an explicit setting.
    worker_start_method: Literal["fork", "spawn", "forkserver"] = "fork"

    def check(self) -> None:
        if not self.datasets:
            raise ConfigError(
                "data.datasets: empty; add at least one entry like {path: /data/pubmed/train, weight: 1.0}"
            )
        names: dict[str, int] = {}
        for i, ds in enumerate(self.datasets):
            key = f"data.datasets[{i}]"
            if not ds.path:
                raise ConfigError(
                    f"{key}.path: empty; set it to a prepared split folder (the one holding manifest.json)"
                )
            if not (math.isfinite(ds.weight) and ds.weight > 0):
                raise ConfigError(
                    f"{key}.weight: {ds.weight!r}; must be a positive number (drop the entry to exclude it)"
                )
            name = ds.resolved_name()
            if name in names:
                raise ConfigError(
                    f"{key}.name: {name!r} is also the name of data.datasets[{names[name]}]; "
                    "give each dataset a distinct name"
                )
            names[name] = i
        for key in ("seq_len", "micro_batch_size", "prefetch_factor"):
            if getattr(self, key) < 1:
                raise ConfigError(f"data.{key}: must be >= 1, got {getattr(self, key)}")
        if self.val_micro_batch_size is not None and self.val_micro_batch_size < 1:
            raise ConfigError(f"data.val_micro_batch_size: must be >= 1 or null, got {self.val_micro_batch_size}")
        if self.num_workers < 0:
            raise ConfigError(f"data.num_workers: must be >= 0, got {self.num_workers}")
        if self.shuffle_buffer < 0:
            raise ConfigError(f"data.shuffle_buffer: must be >= 0, got {self.shuffle_buffer}")
        if self.seed < 0:
            raise ConfigError(f"data.seed: must be >= 0, got {self.seed}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError(f"data.max_tokens: must be >= 1 or null (no budget), got {self.max_tokens}")
        if self.logical_streams < 1:
            raise ConfigError(f"data.logical_streams: must be >= 1, got {self.logical_streams}")
