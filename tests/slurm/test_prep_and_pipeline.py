"""Real Slurm: slurm/prep_pubmed.sh (array jobs) and slurm/pipeline.sh (dependent jobs).

* The array chain over the embedded sample yields the same shards (sha256 in
  each manifest) as one ``python -m data_prep run`` process.
* pipeline.sh runs its stages in order, each after the previous one succeeded;
  when one fails, the stages after it are cancelled, not left pending forever.
* The ordering/cancellation tests use stand-ins (tests/slurm/jobs/record_call.py) for
  convert and eval; test_pipeline_end_to_end_with_the_real_launchers runs every stage
  for real (prep array chain → 2-node pretraining → verified HF export → evaluation).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slurm

SAMPLE_CONFIG = "configs/data/sample.yaml"


def run_pipeline(repo_root: Path, *args: str, env: dict | None = None) -> dict[str, str]:
    """bash slurm/pipeline.sh ARGS; returns {stage: job id} from its stdout."""
    proc = subprocess.run(["bash", "slurm/pipeline.sh", *args], cwd=repo_root, capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, f"pipeline.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return dict(line.split() for line in proc.stdout.splitlines() if line.strip())


@pytest.fixture(scope="module")
def single_process_prep(repo_root, tmp_path_factory, venv_python):
    """The sample prepared by one `data_prep run` process (also gives the tokenizer)."""
    out = tmp_path_factory.mktemp("single") / "sample"
    subprocess.run([venv_python, "-m", "data_prep", "run", "--config", SAMPLE_CONFIG, f"out_dir={out}"],
                   cwd=repo_root, check=True, capture_output=True, text=True, timeout=600)
    return out


def prep_args(repo_root: Path, single: Path, out: Path, tasks: int = 2) -> list[str]:
    """prep_pubmed.sh options that match configs/data/sample.yaml, on the 2-CPU test nodes.

    Near-dedup runs as 3-task arrays over parts of 50 KB (several parts) and the 9 LSH bands."""
    cfg = yaml.safe_load((repo_root / SAMPLE_CONFIG).read_text())
    fractions = ",".join(f"{k}={v}" for k, v in cfg["split"]["fractions"].items())
    return ["--out", str(out), "--tokenizer", str(single / "tokenizer" / "tokenizer.model"),
            "--tasks", str(tasks), "--shard-tasks", "3", "--cpus", "1",
            "--dedup-tasks", "3", "--dedup-mem", "1G", "--dedup-args", "--part-mb 0.05",
            "--split-args", f"--fractions {fractions} --shard-mb {cfg['split']['shard_mb']}",
            *[str(repo_root / p) for p in cfg["pubmed"]["inputs"]]]


def shard_table(shard_dir: Path, split: str) -> list[tuple]:
    manifest = json.loads((shard_dir / split / "manifest.json").read_text())
    return [(s["name"], s["documents"], s["tokens"], s["sha256"]) for s in manifest["shards"]]


@pytest.mark.slow
def test_prep_array_equals_single_process(slurm, repo_root, tmp_path, single_process_prep):
    out = tmp_path / "shards"
    ids = subprocess.run(["bash", "slurm/prep_pubmed.sh", *prep_args(repo_root, single_process_prep, out),
                          "--sbatch", f"--partition={slurm.cluster.partition}"],
                         cwd=repo_root, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    slurm.job_ids += ids
    # extract, resolve, clean, dedup-{signatures,buckets,clusters,filter}, split, shard, merge
    assert len(ids) == 10, ids
    for job in ids:
        slurm.assert_completed(slurm.wait_for(job, timeout=180))
    extract = slurm.job_records(ids[0])
    assert len(extract) == 2, "one extract array task per input file"
    for job in (ids[3], ids[4], ids[6]):  # near-dedup signatures, buckets, filter
        assert len(slurm.job_records(job)) == 3, "near-dedup stages run as 3-task arrays"
    work = Path(str(out) + ".work") / "neardedup"
    assert len(list((work / "out").glob("part-*.jsonl"))) >= 3
    # the single process removed the same near duplicates (clean with near-dedup on)
    single = json.loads((single_process_prep / "clean" / "corpus.stats.json").read_text())
    staged = json.loads((work / "clusters" / "stats.json").read_text())
    assert staged["dropped"]["near_duplicate"] == single["dropped"]["near_duplicate"] > 0
    for split in ("train", "val", "test"):
        assert shard_table(out, split) == shard_table(single_process_prep / "shards", split), split


@pytest.mark.slow
def test_pipeline_runs_stages_in_order(slurm, repo_root, tmp_path, single_process_prep, venv_python):
    calls = tmp_path / "calls.jsonl"
    record = f"{venv_python} tests/slurm/jobs/record_call.py {calls} 0 --"
    env = {
        **os.environ,
        "BIOMAMBA_TRAIN_CMD": f"{venv_python} tests/slurm/jobs/standin_trainer.py",
        "BIOMAMBA_CONVERT_CMD": record, "BIOMAMBA_EVAL_CMD": record,
    }
    config = tmp_path / "train.yaml"
    config.write_text("stand-in\n")
    shards = tmp_path / "shards"
    jobs = run_pipeline(
        repo_root,
        "--prep", subprocess.list2cmdline(prep_args(repo_root, single_process_prep, shards)),
        "--train", f"{config} run_dir={tmp_path / 'run'} standin.exit=0",
        "--convert", f"--checkpoint {tmp_path / 'run'} --out '{tmp_path / 'hf dir'}'",
        "--eval", f"--models '{tmp_path / 'hf dir'}'",
        "--sbatch", f"--partition={slurm.cluster.partition} --gpus-per-node=0 --cpus-per-task=1",
        "--train-sbatch", "--nodes=2 --ntasks-per-node=1 --time=10",
        "--logs", str(tmp_path / "logs"),
        env=env,
    )
    slurm.job_ids += list(jobs.values())
    assert list(jobs) == ["prep", "train", "convert", "eval"]
    for stage in ("train", "convert", "eval"):
        slurm.assert_completed(slurm.wait_for(jobs[stage], timeout=240))
    assert (shards / "train" / "manifest.json").is_file()
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [r["job_id"] for r in recorded] == [jobs["convert"], jobs["eval"]]
    assert recorded[0]["argv"] == ["--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "hf dir")]
    assert recorded[1]["argv"] == ["--models", str(tmp_path / "hf dir")]
    train_end = slurm.job_records(jobs["train"])[0]["EndTime"]
    convert_start = slurm.job_records(jobs["convert"])[0]["StartTime"]
    assert convert_start >= train_end  # ISO timestamps compare as strings


def test_failed_stage_cancels_the_rest(slurm, repo_root, tmp_path, venv_python):
    calls = tmp_path / "calls.jsonl"
    env = {
        **os.environ,
        "BIOMAMBA_CONVERT_CMD": f"{venv_python} tests/slurm/jobs/record_call.py {calls} 3 --",
        "BIOMAMBA_EVAL_CMD": f"{venv_python} tests/slurm/jobs/record_call.py {calls} 0 --",
    }
    jobs = run_pipeline(
        repo_root, "--convert", "--checkpoint x", "--eval", "--models y", "--finetune", "--not-reached",
        "--sbatch", f"--partition={slurm.cluster.partition} --gpus-per-node=0 --cpus-per-task=1",
        "--logs", str(tmp_path / "logs"), env=env,
    )
    slurm.job_ids += list(jobs.values())
    assert list(jobs) == ["convert", "finetune", "eval"]
    convert = slurm.wait_for(jobs["convert"], timeout=60)[0]
    assert (convert["JobState"], convert["ExitCode"]) == ("FAILED", "3:0")
    for stage in ("finetune", "eval"):
        rec = slurm.wait_for(jobs[stage], timeout=30)[0]  # raises if left pending
        assert rec["JobState"] == "CANCELLED", rec
    assert len(calls.read_text().splitlines()) == 1


@pytest.mark.slow
def test_pipeline_end_to_end_with_the_real_launchers(slurm, repo_root, tmp_path, single_process_prep):
    """prep (array chain) → pretrain on 2 nodes → convert to HF (verified) → evaluate, all real."""
    shards, run, hf, report = tmp_path / "shards", tmp_path / "run", tmp_path / "hf", tmp_path / "eval"
    tok = single_process_prep / "tokenizer" / "tokenizer.model"
    train = [
        "configs/pretrain/tiny_sample.yaml", f"run_dir={run}", f"tokenizer={tok}",
        f"data.datasets.0.path={shards / 'train'}", f"data.val_path={shards / 'val'}",
        "max_steps=12", "log_every=1", "eval.every_steps=6", "checkpoint.every_steps=6", "model.n_layer=2",
        "model.d_model=64", "data.seq_len=64", "data.micro_batch_size=4", "data.num_workers=0",
        "schedule.warmup_steps=2", "wandb.enabled=false",
    ]
    jobs = run_pipeline(
        repo_root,
        "--prep", subprocess.list2cmdline(prep_args(repo_root, single_process_prep, shards)),
        "--train", subprocess.list2cmdline(train),
        "--convert", subprocess.list2cmdline([str(run), "--to", "hf", "--out", str(hf), "--verify"]),
        "--eval", subprocess.list2cmdline(["--models", str(hf), "--tasks", "lm", "--heldout",
                                           str(single_process_prep / "split" / "test"), "--out", str(report)]),
        "--sbatch", f"--partition={slurm.cluster.partition} --gpus-per-node=0 --cpus-per-task=1",
        "--train-sbatch", "--nodes=2 --ntasks-per-node=1 --time=20",
        "--logs", str(tmp_path / "logs"),
    )
    slurm.job_ids += list(jobs.values())
    for stage in ("prep", "train", "convert", "eval"):
        slurm.assert_completed(slurm.wait_for(jobs[stage], timeout=600))
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert len(losses) == 12 and losses[-1] < losses[0]
    assert json.loads((run / "checkpoints" / "step_00000012" / "biomamba_meta.json").read_text())["layout"]["world_size"] == 2
    assert (hf / "config.json").is_file()
    scores = json.loads((report / "report.json").read_text())["models"][0]["scores"]
    assert scores["lm.heldout.bits_per_byte"] > 0
