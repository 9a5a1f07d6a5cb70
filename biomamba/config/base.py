"""Typed configuration tree: dataclasses <-> YAML, dotted overrides, validation.

Every configurable part of BioMamba (model, data loader, training, fine-tuning,
data preparation) is a dataclass deriving from :class:`Config`.  A run's whole
configuration is one tree of such dataclasses, loaded from YAML with
``key.sub=value`` overrides and checked by ``validate()`` before anything heavy
starts.  Errors always say which key is wrong and what to change.

Why not OmegaConf/Hydra: we need strict typing against our dataclasses, error
messages naming the offending dotted key, and a ``_base_`` include — about 200
lines here versus a large dependency whose interpolation/resolver features we
do not want in a reproducible training config.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from .errors import ConfigError
from .renames import renamed, renamed_override, renamed_tree


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (from YAML or the command line) to the annotated type."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} does not match {_type_name(tp)} ({'; '.join(errors)})")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            # YAML may give 1 for "1"; accept the string form when it matches.
            as_str = str(value)
            for c in choices:
                if str(c) == as_str:
                    return c
            raise ConfigError(f"{key}: {value!r} is not one of {list(choices)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=key + ".")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        args = get_args(tp)
        if args:
            return {k: _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                try:
                    f = float(value)  # "1e6" or "2048.0"
                    if f.is_integer():
                        return int(f)
                except ValueError:
                    pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping; unknown keys are errors (old names in ``renamed_keys`` are moved)."""
    data = renamed(cls, data or {}, prefix)
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + u for u in unknown)}; "
            f"valid keys under {prefix.rstrip('.') or cls.__name__}: {', '.join(sorted(fields))}"
        )
    kwargs = {name: _coerce(value, hints[name], prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> Any:
    """Plain-data view of a config tree (for YAML/JSON and checkpoints)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def _deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_yaml(path: str | os.PathLike) -> dict:
    """Load a YAML file, resolving ``_base_`` includes (paths relative to the file).

    ``_base_`` may be a path or a list of paths, merged in order and then
    overridden by the including file.  A mapping value ``{"_file_": path}``
    under any key is replaced by that file's contents (used to plug a model
    scale into a run config: ``model: {_file_: ../model/130m.yaml}``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    merged: dict = {}
    for b in bases:
        merged = _deep_merge(merged, load_yaml(path.parent / b))

    def resolve_files(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) >= {"_file_"}:
                inc = load_yaml(path.parent / node["_file_"])
                rest = {k: v for k, v in node.items() if k != "_file_"}
                return _deep_merge(inc, resolve_files(rest))
            return {k: resolve_files(v) for k, v in node.items()}
        return node

    return _deep_merge(merged, resolve_files(data))


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML scalars/lists."""
    data = copy.deepcopy(data)
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r} must look like key.sub=value")
        key, raw = ov.split("=", 1)
        key = key.strip().lstrip("-")
        if not key:
            raise ConfigError(f"override {ov!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            if isinstance(node, list):  # data.datasets.0.path=...: a list element by index
                node = _list_item(node, p, ov)
                continue
            if node.get(p) is None:
                node[p] = {}
            if not isinstance(node[p], (dict, list)):
                raise ConfigError(f"override {ov!r}: {p!r} is not a section")
            node = node[p]
        if isinstance(node, list):
            idx = parts[-1]
            _list_item(node, idx, ov)
            node[int(idx)] = value
        else:
            node[parts[-1]] = value
    return data


def _list_item(node: list, index: str, ov: str):
    if not index.isdigit() or int(index) >= len(node):
        raise ConfigError(f"override {ov!r}: {index!r} is not an index of a list with {len(node)} item(s)")
    return node[int(index)]


T = typing.TypeVar("T")


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> T:
    """YAML file (optional) + dotted overrides -> validated dataclass tree (old key names read as the new ones)."""
    data = renamed_tree(cls, load_yaml(path)) if path else {}
    data = apply_overrides(data, [renamed_override(cls, ov) for ov in overrides or []])
    cfg = from_dict(cls, data)
    if isinstance(cfg, Config):
        cfg.validate()
    return cfg


class Config:
    """Mixin for config dataclasses: recursive ``validate`` and dict/YAML views.

    Subclasses override :meth:`check` to raise :class:`ConfigError` with a
    message that names the key and the change to make.
    """

    def check(self) -> None:  # pragma: no cover - default has nothing to check
        pass

    def validate(self) -> "Config":
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Config):
                v.validate()
            elif isinstance(v, (list, tuple)):
                for item in v:
                    if isinstance(item, Config):
                        item.validate()
        self.check()
        return self

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict):
        return from_dict(cls, data)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
