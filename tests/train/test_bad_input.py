"""Bad input to launcher/train.py ends in one `config error:` line naming the key, exit 2, no traceback.

Single process, as a user would first try it: the checks run before any process group starts.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .launch import ENV, REPO, TINY, free_port

SAMPLE = REPO / "configs" / "pretrain" / "tiny_sample.yaml"


def _train(config, *overrides, tmp_path):
    env = {**os.environ, **ENV, "MASTER_PORT": str(free_port())}
    return subprocess.run([sys.executable, str(REPO / "launcher" / "train.py"), "--config", str(config),
                           f"run_dir={tmp_path / 'run'}", *overrides], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _assert_clean_config_error(proc, *needles):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("config error:")]
    assert len(errors) == 1, out[-3000:]
    for n in needles:
        assert n in errors[0], errors[0]


def test_tensor_parallel_larger_than_the_world(tmp_path):
    proc = _train(TINY, "parallel.tensor_parallel=2", tmp_path=tmp_path)
    _assert_clean_config_error(proc, "parallel.tensor_parallel=2", "world size 1")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="bf16 with TP is supported on CUDA")
def test_bf16_with_tensor_parallel_on_cpu(tmp_path):
    proc = _train(TINY, "parallel.precision=bf16", "parallel.tensor_parallel=2", tmp_path=tmp_path)
    _assert_clean_config_error(proc, "parallel.precision=bf16 with parallel.tensor_parallel=2 needs CUDA")


def test_missing_pretrained_directory(tmp_path):
    proc = _train(TINY, f"init.from_pretrained={tmp_path / 'no_model'}", tmp_path=tmp_path)
    _assert_clean_config_error(proc, f"init.from_pretrained={tmp_path / 'no_model'}")


@pytest.mark.parametrize("key,override", [
    ("data.datasets.0.path", "data.datasets.0.path={missing}"),
    ("data.val_path", "data.val_path={missing}"),
    ("tokenizer", "tokenizer={missing}"),
])
def test_missing_input_paths_name_the_key(tmp_path, key, override, prepared_sample):
    good = {"tokenizer": prepared_sample / "tokenizer" / "tokenizer.model",
            "data.datasets.0.path": prepared_sample / "shards" / "train",
            "data.val_path": prepared_sample / "shards" / "val"}
    missing = tmp_path / "no_such_split"
    overrides = [f"{k}={v}" for k, v in good.items() if k != key] + [override.format(missing=missing)]
    proc = _train(SAMPLE, *overrides, tmp_path=tmp_path)
    _assert_clean_config_error(proc, f"{key}={missing}")
