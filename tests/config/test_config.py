"""Typed config tree: YAML + includes + dotted overrides, strict types, actionable errors, --dry-run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from biomamba.config import Config, ConfigError, load_config
from biomamba.model import MambaConfig


@dataclass
class Opt(Config):
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    schedule: Literal["cosine", "wsd"] = "cosine"

    def check(self):
        if self.lr <= 0:
            raise ConfigError(f"optim.lr: must be > 0, got {self.lr}; e.g. optim.lr=3e-4")


@dataclass
class Run(Config):
    name: str = "x"
    steps: int = 10
    seed: Optional[int] = None
    debug: bool = False
    model: MambaConfig = field(default_factory=MambaConfig)
    optim: Opt = field(default_factory=Opt)


def test_yaml_includes_and_overrides(tmp_path):
    (tmp_path / "model.yaml").write_text("d_model: 64\nn_layer: 2\n")
    (tmp_path / "base.yaml").write_text("steps: 5\noptim: {lr: 0.1}\n")
    (tmp_path / "run.yaml").write_text(
        textwrap.dedent(
            """
            _base_: base.yaml
            name: demo
            model: {_file_: model.yaml, vocab_size: 100}
            """
        )
    )
    cfg = load_config(Run, tmp_path / "run.yaml", ["optim.lr=3e-4", "model.n_layer=3", "seed=7", "debug=true",
                                                    "optim.betas=[0.8,0.9]", "optim.schedule=wsd"])
    assert cfg.name == "demo" and cfg.steps == 5 and cfg.seed == 7 and cfg.debug is True
    assert (cfg.model.d_model, cfg.model.n_layer, cfg.model.vocab_size) == (64, 3, 100)
    assert cfg.optim.lr == 3e-4 and cfg.optim.betas == [0.8, 0.9] and cfg.optim.schedule == "wsd"
    assert Run.from_dict(cfg.to_dict()) == cfg  # round trip


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "unknown key.*optim.lrr.*valid keys under optim: betas, lr, schedule"),
        ("steps=ten", "steps: expected an integer"),
        ("optim.schedule=linear", r"optim.schedule: 'linear' is not one of \['cosine', 'wsd'\]"),
        ("optim.lr=-1", "optim.lr: must be > 0"),
        ("debug=maybe", "debug: expected true/false"),
        ("model.ssm_cfg.layer=Mamba3", r"model.ssm_cfg.layer: .Mamba3. is not supported; use one of \[.Mamba1., .Mamba2.\]"),
        ("justakey", "must look like key.sub=value"),
    ],
)
def test_errors_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Run, None, [override])


def test_list_items_by_index(tmp_path):
    from biomamba.config import apply_overrides

    data = apply_overrides({"d": [{"path": "a"}, {"path": "b"}]}, ["d.1.path=c"])
    assert data == {"d": [{"path": "a"}, {"path": "c"}]}
    with pytest.raises(ConfigError, match="not an index"):
        apply_overrides(data, ["d.2.path=x"])


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Run, tmp_path / "nope.yaml")


def test_numbers_in_scientific_notation(tmp_path):
    cfg = load_config(Run, None, ["steps=1e3", "optim.lr=1e-4"])
    assert cfg.steps == 1000 and isinstance(cfg.steps, int)


def test_dry_run_prints_resolved_config(repo_root):
    proc = subprocess.run(
        [sys.executable, "-m", "biomamba.config.show", "--config", str(repo_root / "configs/model/tiny.yaml"),
         "--kind", "model", "n_layer=3", "--dry-run"],
        capture_output=True, text=True, cwd=repo_root,
    )
    assert proc.returncode == 0, proc.stderr
    assert "n_layer: 3" in proc.stdout and "d_model: 256" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "biomamba.config.show", "--kind", "model", "n_layer=-1"],
        capture_output=True, text=True, cwd=repo_root,
    )
    assert bad.returncode == 2 and "model.n_layer: must be >= 1" in bad.stderr
