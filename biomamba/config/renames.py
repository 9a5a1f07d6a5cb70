"""Config keys that moved: a dataclass lists ``renamed_keys = {old: "new.dotted.path"}`` (a ``ClassVar``).

Old names keep loading, with a ``FutureWarning``: in YAML files (:func:`renamed_tree`), in dotted overrides
(:func:`renamed_override`, so ``finetune.max_exact_tokens=8`` overrides a file's ``finetune.decoding.max_exact_tokens``)
and in mappings given to ``from_dict`` (:func:`renamed`). Both names in one mapping is an error.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
import typing
from typing import Any

from .errors import ConfigError


def _moves(cls: Any) -> dict[str, str]:
    return (getattr(cls, "renamed_keys", None) or {}) if dataclasses.is_dataclass(cls) else {}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"config key {old} is now {new}; the old name still works", FutureWarning, stacklevel=4)


def renamed(cls: type, data: dict, prefix: str = "") -> dict:
    """``data`` (one level, for ``cls``) with its old keys moved to their new places."""
    moves = _moves(cls)
    if not isinstance(data, dict) or not any(old in data for old in moves):
        return data
    data = copy.deepcopy(data)
    for old, new in moves.items():
        if old not in data:
            continue
        *path, leaf = new.split(".")
        node = data
        for p in path:
            if node.get(p) is None:
                node[p] = {}
            node = node[p]
            if not isinstance(node, dict):
                raise ConfigError(f"{prefix}{new}: {prefix}{p} must be a mapping")
        if leaf in node:
            raise ConfigError(f"{prefix}{old} and {prefix}{new} are the same setting ({prefix}{old} is its old "
                              f"name); give only {prefix}{new}")
        node[leaf] = data.pop(old)
        _warn(prefix + old, prefix + new)
    return data


def renamed_tree(cls: type, data: dict, prefix: str = "") -> dict:
    """:func:`renamed` at every level of nested config sections."""
    data = renamed(cls, data, prefix)
    if not dataclasses.is_dataclass(cls) or not isinstance(data, dict):
        return data
    hints = typing.get_type_hints(cls)
    return {k: renamed_tree(hints[k], v, f"{prefix}{k}.") if k in hints and isinstance(v, dict) else v
            for k, v in data.items()}


def renamed_override(cls: type, override: str) -> str:
    """``finetune.max_exact_tokens=8`` -> ``finetune.decoding.max_exact_tokens=8`` (unchanged when nothing moved)."""
    if "=" not in override:
        return override
    key, value = override.split("=", 1)
    parts, out, node = key.strip().lstrip("-").split("."), [], cls
    while parts:
        part = parts.pop(0)
        if part in _moves(node):
            new = _moves(node)[part].split(".")
            _warn(".".join(out + [part]), ".".join(out + new))
            part, parts = new[0], new[1:] + parts
        out.append(part)
        hints = typing.get_type_hints(node) if dataclasses.is_dataclass(node) else {}
        node = hints.get(part)
    if out == key.strip().lstrip("-").split("."):
        return override
    return ".".join(out) + "=" + value
