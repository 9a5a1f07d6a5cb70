"""Command lines built from the typed config tree.

Two ways, both driven by the dataclasses so no flag repeats a config field by hand:

* ``--config`` + ``--dry-run`` + ``key.sub=value`` overrides (:func:`add_config_arguments`,
  :func:`config_from_args`): every launcher that takes a whole tree;
* one flag per field (:func:`add_flags`, :func:`from_flags`): the per-stage commands of
  ``python -m data_prep`` and the evaluation report. A field ``foo_bar`` becomes ``--foo-bar`` with the
  field's type, default and help (declared with :func:`setting`); a ``Literal`` gives the choices; a
  bool that defaults to false is a switch that sets it, one that defaults to true a switch
  ``--no-foo-bar`` that clears it (or ``--foo-bar/--no-foo-bar`` with ``action="optional"``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from .base import ConfigError, _hints, load_config

T = TypeVar("T")
_KEY = "cli"


def add_config_arguments(parser: argparse.ArgumentParser, default_config: str | None = None,
                         required: bool = False) -> None:
    parser.add_argument("--config", default=default_config, required=required,
                        help="YAML config file (see configs/)")
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


# ----- one flag per field -----
def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
            help: str | None = None, flag: str | None = None, action: str | None = None,
            positional: bool = False, metavar: str | None = None, type: Callable | None = None,
            convert: Callable[[Any], Any] | None = None, cli_default: Any = dataclasses.MISSING,
            choices: Iterable | None = None) -> Any:
    """A dataclass field with its command-line description.

    ``flag``: the option name when it is not ``--foo-bar`` (e.g. ``--allow-no-body`` clearing a true
    bool); ``action``: ``"append"`` (repeatable, one value each) or ``"optional"`` (``--x/--no-x``);
    ``positional``: one or more values without a flag; ``type``: how argparse parses one value (default:
    the field's type); ``convert``: applied to the parsed value when the config is built (errors raised
    there are :class:`ConfigError`); ``cli_default``: the flag's default when it is not the field's
    (e.g. a string ``convert`` turns into the field's value).
    """
    meta = {_KEY: {"help": help, "flag": flag, "action": action, "positional": positional, "metavar": metavar,
                   "type": type, "convert": convert, "cli_default": cli_default, "choices": choices}}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


@dataclasses.dataclass
class _Flag:
    field: str
    dest: str
    names: list[str]
    kwargs: dict
    invert: bool = False
    convert: Callable | None = None


def _scalar(tp: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return tp


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ConfigError(f"{f.name}: a field without a default cannot be a flag")


def _flag(f: dataclasses.Field, tp: Any, default: Any) -> _Flag:
    meta = dict(f.metadata.get(_KEY, {}))
    name = f.name.replace("_", "-")
    cli_default = meta.get("cli_default", dataclasses.MISSING)
    default = copy.deepcopy(default if cli_default is dataclasses.MISSING else cli_default)
    kwargs: dict = {"help": meta.get("help")}
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    tp = _scalar(tp)
    origin = get_origin(tp)
    if meta.get("positional"):
        return _Flag(f.name, f.name, [f.name], {**kwargs, "nargs": "+"}, convert=meta.get("convert"))
    if tp is bool and meta.get("action") == "optional":
        kwargs.update(action=argparse.BooleanOptionalAction, default=default)
        return _Flag(f.name, f.name, [meta.get("flag") or f"--{name}"], kwargs)
    if tp is bool:
        option = meta.get("flag") or (f"--no-{name}" if default else f"--{name}")
        return _Flag(f.name, option.lstrip("-").replace("-", "_"), [option], {**kwargs, "action": "store_true"},
                     invert=bool(default))
    kwargs["default"] = default
    if meta.get("action") == "append":
        kwargs["action"] = "append"
        tp = get_args(tp)[0] if get_args(tp) else str
    if meta.get("choices") is not None:
        kwargs["choices"] = meta["choices"]
    elif get_origin(tp) is Literal:
        kwargs["choices"] = list(get_args(tp))
    if meta.get("type"):
        kwargs["type"] = meta["type"]
    elif tp in (int, float):
        kwargs["type"] = tp
    elif origin is list and kwargs.get("choices"):
        kwargs["nargs"] = "+"
    return _Flag(f.name, f.name, [f"--{name}"], kwargs, convert=meta.get("convert"))


def _flags(cls: type, names: Iterable[str] | None, defaults: dict | None) -> list[tuple[_Flag, tuple[str, ...]]]:
    """(flag, path of nested fields) for ``names`` of ``cls``; a nested config contributes its own fields."""
    hints, out, defaults = _hints(cls), [], defaults or {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [n for n in names or () if n not in fields]
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {unknown}")
    for name in names if names is not None else fields:
        f, tp = fields[name], hints[name]
        if dataclasses.is_dataclass(tp):
            out += [(flag, (name,) + path) for flag, path in _flags(tp, None, defaults)]
            continue
        out.append((_flag(f, tp, defaults.get(name, _field_default(f))), ()))
    return out


def add_flags(parser: argparse.ArgumentParser, cls: type, names: Iterable[str] | None = None,
              defaults: dict | None = None) -> None:
    """Add one flag per field ``names`` of ``cls`` (all by default); ``defaults`` overrides some defaults."""
    for flag, _ in _flags(cls, list(names) if names is not None else None, defaults):
        kwargs = {k: v for k, v in flag.kwargs.items() if k != "help" or v is not None}
        parser.add_argument(*flag.names, **kwargs)


def from_flags(cls: type[T], args: argparse.Namespace, **values: Any) -> T:
    """``cls`` from the flags :func:`add_flags` added (those present in ``args``), plus ``values``.

    Fields with no flag in ``args`` keep their defaults; ``values`` win over flags. Not validated.
    """
    kwargs: dict = {}
    for flag, path in _flags(cls, None, None):
        if not hasattr(args, flag.dest):
            continue
        value = getattr(args, flag.dest)
        value = (not value) if flag.invert else value
        if flag.convert is not None:
            value = flag.convert(value)
        elif isinstance(value, list):
            value = list(value)
        node = kwargs
        for p in path:
            node = node.setdefault(p, {})
        node[flag.field] = value
    hints = _hints(cls)
    for name, sub in list(kwargs.items()):
        if isinstance(sub, dict) and dataclasses.is_dataclass(hints[name]):
            kwargs[name] = _build(hints[name], sub)
    return cls(**{**kwargs, **values})


def _build(cls: type, kwargs: dict) -> Any:
    hints = _hints(cls)
    return cls(**{k: _build(hints[k], v) if isinstance(v, dict) and dataclasses.is_dataclass(hints[k]) else v
                  for k, v in kwargs.items()})
