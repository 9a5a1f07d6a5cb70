"""The slurm/ scripts without a cluster: syntax, usage errors, pipeline --dry-run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "slurm").glob("*.sh"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_bash_syntax(repo_root, name):
    subprocess.run(["bash", "-n", f"slurm/{name}"], cwd=repo_root, check=True)


@pytest.mark.parametrize("name", ["pretrain.sh", "finetune_bioasq.sh", "convert.sh", "eval.sh"])
def test_job_scripts_refuse_to_run_outside_slurm(repo_root, name):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}  # no SLURM_JOB_ID
    proc = subprocess.run(["bash", f"slurm/{name}", "x.yaml"], cwd=repo_root, capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "submit with sbatch" in proc.stderr, proc.stderr


def test_prep_usage_error(repo_root):
    proc = subprocess.run(["bash", "slurm/prep_pubmed.sh", "--out", "x"], cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_pipeline_dry_run_submits_nothing(repo_root, tmp_path):
    proc = subprocess.run(["bash", "slurm/pipeline.sh", "--dry-run", "--train", "cfg.yaml a=1",
                           "--eval", "--models 'm 1'", "--logs", str(tmp_path / "logs")],
                          cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["train", "<train>", "eval", "<eval>"]
    assert "--dependency=afterok:\\<train\\> --kill-on-invalid-dep=yes" in proc.stderr
    assert "slurm/eval.sh --models m\\ 1" in proc.stderr
    assert not (tmp_path / "logs").exists()


def test_prep_dry_run_submits_nothing(repo_root, tmp_path):
    sample = repo_root / "biomamba" / "resources" / "sample"
    proc = subprocess.run(["bash", "slurm/prep_pubmed.sh", "--dry-run", "--out", str(tmp_path / "out"),
                           "--tokenizer", str(sample), "--tasks", "8", str(sample)],
                          cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    stages = ["extract", "resolve", "clean", "dedup-signatures", "dedup-buckets", "dedup-clusters", "dedup-filter",
              "split", "shard", "merge"]
    assert proc.stdout.split() == [f"<{s}>" for s in stages]
    assert "--array=0-1 " in proc.stderr  # two input files: at most one extract task per file
    assert proc.stderr.count("--kill-on-invalid-dep=yes") == 9
    assert "clean.jsonl --no-near-dedup" in proc.stderr and "split " + str(tmp_path / "out.work/neardedup/out") in proc.stderr
    assert not (tmp_path / "out.work").exists()


def test_prep_dry_run_without_near_dedup(repo_root, tmp_path):
    sample = repo_root / "biomamba" / "resources" / "sample"
    proc = subprocess.run(["bash", "slurm/prep_pubmed.sh", "--dry-run", "--out", str(tmp_path / "out"),
                           "--tokenizer", str(sample), "--clean-args", "--no-near-dedup", str(sample)],
                          cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [f"<{s}>" for s in ["extract", "resolve", "clean", "split", "shard", "merge"]]
