"""Token shards and the streaming, rank-aware loader with exact resume (see docs/data_loader.md)."""

from .config import DataConfig, DatasetConfig
from .format import ShardFormatError
from .loader import TokenLoader, ValLoader, build_train_loader, build_val_loader
from .shard_reader import ShardCorruptError
from .state import LoaderStateError

__all__ = [
    "DataConfig",
    "DatasetConfig",
    "LoaderStateError",
    "ShardCorruptError",
    "ShardFormatError",
    "TokenLoader",
    "ValLoader",
    "build_train_loader",
    "build_val_loader",
]
