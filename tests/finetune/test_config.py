"""FinetuneConfig: every engine key plus finetune:, errors that name the key, the launcher's --dry-run."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from biomamba.config import ConfigError, load_config
from biomamba.finetune.config import FinetuneConfig

from .conftest import TINY


def test_tiny_config_validates_with_engine_keys(tiny_config):
    cfg = tiny_config("parallel.zero_stage=3", "optim.lr=1e-4", "eval.patience=2")
    assert cfg.parallel.zero_stage == 3 and cfg.optim.lr == 1e-4 and cfg.eval.patience == 2
    assert cfg.finetune.answer_kinds == ["exact"] and cfg.eval.select_metric == "dev_yesno_accuracy"
    assert cfg.init.vocab_policy == "error"  # also when only init.from_pretrained is given
    assert tiny_config("init.from_pretrained=/tmp").init.vocab_policy == "error"


@pytest.mark.parametrize("overrides, key", [
    (["finetune.train_json=/nonexistent.json"], "finetune.train_json"),
    (["eval.select_metric=val_loss", "eval.select_mode=min"], "eval.select_metric"),
    (["eval.select_metric=dev_loss"], "eval.select_mode"),  # lower-is-better selected with max
    (["eval.select_metric=null"], "eval.patience"),  # patience without a metric
    (["finetune.dev_fraction=0"], "eval.select_metric"),
    (["eval.select_metric=dev_rouge2_f1"], "dev_ideal_answers"),
    (["finetune.answer_kinds=[rationale]"], "finetune.answer_kinds"),
    (["init.from_pretrained=/tmp", "init.vocab_policy=overlap"], "init.vocab_policy"),
    (["tokenizer=null"], "tokenizer"),
    (["data.datasets=[{path: /x}]"], "data.datasets"),
    (["finetune.max_exact_tokens=96"], "finetune.max_exact_tokens"),
])
def test_errors_name_the_key(tiny_config, overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        tiny_config(*overrides)


def _launch(*args):
    return subprocess.run([sys.executable, "launcher/finetune.py", *args], capture_output=True, text=True, timeout=120)


def test_dry_run_prints_run_dir_and_bad_config_exits_2(repo_root, sp_model_path, monkeypatch):
    monkeypatch.chdir(repo_root)
    ok = _launch("--config", TINY, f"tokenizer={sp_model_path}", "run_dir=/tmp/somewhere", "--dry-run")
    assert ok.returncode == 0, ok.stderr
    resolved = yaml.safe_load(ok.stdout)
    assert resolved["run_dir"] == "/tmp/somewhere" and resolved["finetune"]["dev_fraction"] == 0.1
    bad = _launch("--config", TINY, "eval.select_metric=nonsense", "--dry-run")
    assert bad.returncode == 2 and "eval.select_metric" in bad.stderr


def test_shipped_bioasq_config_loads_once_its_paths_are_set(repo_root, tmp_path):
    (tmp_path / "model").mkdir()
    cfg = load_config(FinetuneConfig, repo_root / "configs/finetune/bioasq.yaml", [
        f"init.from_pretrained={tmp_path / 'model'}",
        f"finetune.train_json={repo_root / 'tests/fixtures/eval/training.json'}",
    ])
    assert cfg.finetune.answer_kinds == ["exact", "ideal"] and cfg.eval.patience
    with pytest.raises(ConfigError, match="init.from_pretrained"):
        load_config(FinetuneConfig, repo_root / "configs/finetune/bioasq.yaml",
                    [f"finetune.train_json={repo_root / 'tests/fixtures/eval/training.json'}"])


def test_dev_decoding_is_the_eval_decoding_config_and_old_keys_still_load(tiny_config):
    from biomamba.eval.decoding import DecodingConfig
    from biomamba.finetune.build import decoding_settings

    cfg = tiny_config()
    assert isinstance(cfg.finetune.decoding, DecodingConfig) and cfg.finetune.decoding.max_exact_tokens == 8
    dev = decoding_settings(cfg)  # the prompt budget of the training examples; no ideal answers by default
    assert (dev.max_prompt_tokens, dev.ideal_answers, dev.repeat_question) == (96 - 8, False, False)
    with pytest.warns(FutureWarning, match="finetune.max_exact_tokens is now finetune.decoding.max_exact_tokens"):
        old = tiny_config("finetune.max_exact_tokens=9", "finetune.dev_ideal_answers=true")
    assert (old.finetune.decoding.max_exact_tokens, old.finetune.decoding.ideal_answers) == (9, True)
    assert decoding_settings(tiny_config("finetune.decoding.max_prompt_tokens=50")).max_prompt_tokens == 50
