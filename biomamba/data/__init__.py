"""Token shards and the streaming, rank-aware loader with exact resume (see docs/data_loader.md).

The loader's names are imported lazily: ``data_prep`` uses :mod:`biomamba.data.format`
(numpy only) in every command and forked shard worker, and should not pay for importing torch.
"""

from importlib import import_module

from .config import DataConfig, DatasetConfig
from .format import ShardFormatError

_LAZY = {
    "TokenLoader": ".loader",
    "ValLoader": ".loader",
    "build_train_loader": ".loader",
    "build_val_loader": ".loader",
    "ShardCorruptError": ".shard_reader",
    "LoaderStateError": ".state",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DataConfig", "DatasetConfig", "ShardFormatError", *_LAZY]
