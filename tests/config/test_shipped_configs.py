"""Every config file we ship resolves and validates (a typo in configs/ fails here, not on a cluster)."""

from __future__ import annotations

import pytest

from biomamba.config import load_config
from biomamba.train.config import TrainConfig

from ..conftest import REPO_ROOT

PRETRAIN = sorted(p for p in (REPO_ROOT / "configs" / "pretrain").glob("*.yaml") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", PRETRAIN, ids=lambda p: p.name)
def test_pretrain_configs_validate(path):
    cfg = load_config(TrainConfig, path)
    assert cfg.max_steps > 0 and cfg.run_dir


def test_pipeline_config_validates():
    from biomamba.pipeline import PipelineConfig

    cfg = load_config(PipelineConfig, REPO_ROOT / "configs" / "pipeline" / "quickstart.yaml")
    assert cfg.nproc == 2


def test_the_pipeline_removes_the_set_it_evaluates_on():
    """Issue 14.1: a user-named eval_gold is excluded at data prep, on top of the data config's own list."""
    from biomamba.pipeline import PipelineConfig, decontamination_overrides

    assert decontamination_overrides(PipelineConfig()) == []  # the shipped sample: excluded by default already
    gold = REPO_ROOT / "tests/fixtures/eval/dev_golden.json"
    cfg = PipelineConfig(eval_gold=str(gold), data_config="configs/data/pubmed_baseline.yaml")
    (override,) = decontamination_overrides(cfg)
    assert override.startswith("split.exclude_bioasq=[eval/BioASQ-training12b/training12b.json, ")
    assert override.endswith(f", {gold.resolve()}]")
