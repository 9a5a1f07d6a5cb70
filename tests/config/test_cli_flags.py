"""Flags generated from config dataclasses (biomamba.config.cli) and renamed config keys (biomamba.config.renames)."""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Optional

import pytest

from biomamba.config import Config, ConfigError, load_config
from biomamba.config.cli import add_flags, from_flags, setting


def _split(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(","))}


@dataclass
class Inner(Config):
    depth: int = setting(3, help="how deep")
    loud: bool = setting(True, action="optional", help="speak up")


@dataclass
class Stage(Config):
    inputs: list[str] = setting(default_factory=list, positional=True, metavar="FILE")
    min_chars: int = setting(200, help="shorter texts are dropped")
    ratio: Optional[float] = setting(None)
    prefer: Literal["a", "b"] = setting("a")
    keep_all: bool = setting(False, help="keep everything")
    dedup: bool = setting(True)
    require_body: bool = setting(True, flag="--allow-no-body")
    exclude: list[str] = setting(default_factory=list, action="append", metavar="F")
    langs: list[str] = setting(default_factory=lambda: ["eng"], type=lambda s: s.split(","))
    weights: dict[str, float] = setting(default_factory=lambda: {"x": 1.0}, cli_default="x=1.0", convert=_split)
    inner: Inner = field(default_factory=Inner)
    not_a_flag: str = "kept"


def _parser(**kw) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_flags(p, Stage, **kw)
    return p


def test_flags_carry_name_type_default_choices_and_help():
    actions = {a.option_strings[0] if a.option_strings else a.dest: a for a in _parser()._actions}
    assert actions["--min-chars"].type is int and actions["--min-chars"].default == 200
    assert actions["--min-chars"].help == "shorter texts are dropped"
    assert actions["--ratio"].type is float and actions["--ratio"].default is None
    assert list(actions["--prefer"].choices) == ["a", "b"]
    assert actions["inputs"].nargs == "+" and actions["inputs"].metavar == "FILE"
    assert actions["--keep-all"].dest == "keep_all" and actions["--keep-all"].default is False
    assert actions["--no-dedup"].dest == "no_dedup"  # a true bool is cleared by --no-<name>
    assert actions["--allow-no-body"].dest == "allow_no_body"
    assert actions["--depth"].help == "how deep" and "--loud" in actions and "--no-loud" in actions["--loud"].option_strings
    assert "--not-a-flag" in actions  # every field is a flag unless names pick some


def test_parsed_flags_build_the_dataclass():
    args = _parser().parse_args(["f1", "f2", "--min-chars", "5", "--prefer", "b", "--keep-all", "--no-dedup",
                                 "--allow-no-body", "--exclude", "x", "--exclude", "y", "--langs", "eng,fre",
                                 "--weights", "x=0.5,y=0.5", "--depth", "7", "--no-loud"])
    cfg = from_flags(Stage, args, not_a_flag="given")
    assert cfg == Stage(inputs=["f1", "f2"], min_chars=5, prefer="b", keep_all=True, dedup=False, require_body=False,
                        exclude=["x", "y"], langs=["eng", "fre"], weights={"x": 0.5, "y": 0.5},
                        inner=Inner(depth=7, loud=False), not_a_flag="given")
    assert from_flags(Stage, _parser().parse_args(["f"])) == Stage(inputs=["f"])  # defaults are the dataclass's


def test_names_pick_flags_and_defaults_can_differ():
    p = _parser(names=("min_chars", "prefer"), defaults={"min_chars": 7})
    assert p.parse_args([]).min_chars == 7 and not hasattr(p.parse_args([]), "keep_all")
    cfg = from_flags(Stage, p.parse_args(["--prefer", "b"]))
    assert (cfg.min_chars, cfg.prefer, cfg.keep_all) == (7, "b", False)
    with pytest.raises(ConfigError, match="no field"):
        _parser(names=("nonsense",))


def test_append_defaults_are_not_shared_between_parsers():
    _parser().parse_args(["f", "--exclude", "x"])
    assert _parser().parse_args(["f"]).exclude == []


# ----- renamed keys -----
@dataclass
class Section(Config):
    size: int = 1
    inner: Inner = field(default_factory=Inner)
    renamed_keys: ClassVar[dict[str, str]] = {"old_depth": "inner.depth"}


@dataclass
class Root(Config):
    section: Section = field(default_factory=Section)


def test_old_key_loads_with_a_warning_in_files_and_overrides(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("section: {old_depth: 5}\n")
    with pytest.warns(FutureWarning, match="section.old_depth is now section.inner.depth"):
        assert load_config(Root, old).section.inner.depth == 5
    with pytest.warns(FutureWarning):
        assert load_config(Root, None, ["section.old_depth=6"]).section.inner.depth == 6
    new = tmp_path / "new.yaml"
    new.write_text("section: {inner: {depth: 5}}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_config(Root, new).section.inner.depth == 5
    with pytest.warns(FutureWarning):  # an old-name override still overrides the file's new key
        assert load_config(Root, new, ["section.old_depth=9"]).section.inner.depth == 9
    assert load_config(Root, old, ["section.inner.depth=9"]).section.inner.depth == 9


def test_both_names_in_one_file_is_an_error(tmp_path):
    both = tmp_path / "both.yaml"
    both.write_text("section: {old_depth: 5, inner: {depth: 6}}\n")
    with pytest.raises(ConfigError, match=r"section\.old_depth and section\.inner\.depth are the same setting"):
        load_config(Root, both)


# ----- the shipped command lines -----
def _signature(a: argparse.Action) -> tuple:
    choices = tuple(a.choices) if a.choices is not None else None
    return (type(a).__name__, a.dest, repr(a.default), a.type, choices, a.nargs, a.metavar, a.help)


def _walk(p: argparse.ArgumentParser, path: str = ""):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _walk(sub, f"{path} {name}".strip())
        elif a.option_strings:
            yield path, a


def _capture(main, argv):
    """The parser a ``main`` builds (its parse_args raises with the parser)."""
    class Built(Exception):
        pass

    def grab(self, *a, **k):
        raise Built(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(argparse.ArgumentParser, "parse_args", grab)
        with pytest.raises(Built) as got:
            main(argv)
    return got.value.args[0]


# Flags that look like a config field's but are other settings: PMC's own download address, and the
# splits merge-manifest joins (default: every split with receipts).
NOT_CONFIG = {("download pmc", "--base-url"), ("merge-manifest", "--splits")}


def _generated(classes, extra=()) -> dict[str, set]:
    out: dict[str, set] = {}
    for cls, kw in [(c, {}) for c in classes] + list(extra):
        p = argparse.ArgumentParser()
        add_flags(p, cls, **kw)
        for _, a in _walk(p):
            out.setdefault(a.option_strings[0], set()).add(_signature(a))
    return out


def test_no_cli_flag_repeats_a_config_field_by_hand():
    """Every flag named like a config field is exactly the flag generated from that field, and no source spells
    one out (the NOT_CONFIG flags aside)."""
    import re

    from biomamba.eval.bioasq.__main__ import main as bioasq_main
    from biomamba.eval.config import EvalConfig
    from biomamba.eval.decoding import DecodingConfig
    from biomamba.eval.report.cli import parse_args
    from data_prep import config as prep
    from data_prep.cli import build_parser

    from ..conftest import REPO_ROOT

    prep_flags = _generated((prep.DownloadConfig, prep.PubmedConfig, prep.PmcConfig, prep.CleanConfig,
                             prep.SplitConfig, prep.TokenizerConfig, prep.ShardConfig))
    # The report's own defaults for two EvalConfig fields.
    eval_flags = _generated((EvalConfig, DecodingConfig), [(EvalConfig, {"names": ("tasks", "lm_max_texts"), "defaults": {
        "tasks": ["bioasq", "lm"], "lm_max_texts": 2000}})])
    checked = 0
    for parser, generated, sources in [
            (build_parser(), prep_flags, ["data_prep/cli.py"]),
            (_capture(parse_args, []), eval_flags, ["biomamba/eval/report/cli.py", "biomamba/eval/model_args.py"]),
            (_capture(bioasq_main, []), eval_flags, ["biomamba/eval/bioasq/answer_cli.py",
                                                     "biomamba/eval/bioasq/__main__.py"])]:
        for path, a in _walk(parser):
            name = a.option_strings[0]
            if name in generated and (path, name) not in NOT_CONFIG:
                assert _signature(a) in generated[name], f"{path} {name} is declared by hand"
                checked += 1
        for source in sources:
            by_hand = set(re.findall(r'add_argument\(\s*"(--[a-z0-9-]+)"', (REPO_ROOT / source).read_text()))
            assert by_hand & set(generated) <= {name for _, name in NOT_CONFIG}, source
    assert checked > 40
