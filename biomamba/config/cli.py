"""Command-line front end shared by every launcher: ``--config``, ``--dry-run``, ``key=value``."""

from __future__ import annotations

import argparse
import sys
from typing import TypeVar

from .base import ConfigError, load_config

T = TypeVar("T")


def add_config_arguments(parser: argparse.ArgumentParser, default_config: str | None = None) -> None:
    parser.add_argument("--config", default=default_config, help="YAML config file (see configs/)")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="dotted config overrides")


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Resolve ``args.config`` + ``args.overrides`` into a validated ``cls``.

    On a configuration error prints the message and exits with status 2 (the
    usual "bad usage" code), so launchers never start half-configured.
    With ``--dry-run`` prints the resolved YAML and exits 0.
    """
    try:
        cfg = load_config(cls, args.config, args.overrides)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    if getattr(args, "dry_run", False):
        print(cfg.to_yaml(), end="")
        raise SystemExit(0)
    return cfg
