"""Typed config tree shared by every BioMamba component (see :mod:`biomamba.config.base`)."""

from .base import Config, ConfigError, apply_overrides, from_dict, load_config, load_yaml, to_dict
from .cli import add_config_arguments, config_from_args

__all__ = [
    "Config",
    "ConfigError",
    "apply_overrides",
    "from_dict",
    "load_config",
    "load_yaml",
    "to_dict",
    "add_config_arguments",
    "config_from_args",
]
