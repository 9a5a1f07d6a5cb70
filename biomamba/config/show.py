"""``python -m biomamba.config.show --kind model|train|... --config F [key=value ...]`` prints a resolved config.

Every launcher also accepts ``--dry-run``; this entry point resolves a config
without importing the heavy training stack.
"""

from __future__ import annotations

import argparse
import importlib

from .cli import add_config_arguments, config_from_args

# kind -> "module:Class"; grows as components register their top-level configs.
KINDS = {
    "model": "biomamba.model.config:MambaConfig",
    "train": "biomamba.train.config:TrainConfig",
}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kind", choices=sorted(KINDS), default="train")
    add_config_arguments(p)
    args = p.parse_args(argv)
    mod, cls = KINDS[args.kind].split(":")
    cfg = config_from_args(getattr(importlib.import_module(mod), cls), args)
    print(cfg.to_yaml(), end="")


if __name__ == "__main__":
    main()
