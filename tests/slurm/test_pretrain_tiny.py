"""Real Slurm + the real trainer: `sbatch slurm/pretrain.sh` with the tiny config on 2 nodes x 1 task (gloo).

* An uninterrupted run finishes, writes checkpoints and metrics, and its loss falls.
* A run signalled mid-way (as --signal=B:USR1@120 does before the time limit)
  checkpoints, requeues itself, resumes, and ends with the same final loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

CONFIG = "configs/pretrain/tiny_synthetic.yaml"
STEPS = 24
OVERRIDES = [f"max_steps={STEPS}", "log_every=1", "checkpoint.every_steps=12"]


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def losses(run_dir: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in metrics(run_dir) if "loss" in m}


def submit_tiny(slurm, cpu_job_args, run_dir: Path) -> str:
    return slurm.submit("slurm/pretrain.sh", CONFIG, *OVERRIDES, sbatch_args=cpu_job_args(nodes=2),
                        env={"BIOMAMBA_RUN_DIR": str(run_dir)})


@pytest.fixture(scope="module")
def reference_run(slurm_cluster, repo_root, tmp_path_factory):
    """The uninterrupted run: (job records, run dir)."""
    from . import slurmtools

    run_dir = tmp_path_factory.mktemp("tiny") / "reference"
    args = [f"--partition={slurm_cluster.partition}", "--nodes=2", "--gpus-per-node=0", "--ntasks-per-node=1",
            "--time=10", f"--output={run_dir.parent}/%x-%j.out"]
    job = slurmtools.submit("slurm/pretrain.sh", CONFIG, *OVERRIDES, sbatch_args=args,
                            env={"BIOMAMBA_RUN_DIR": str(run_dir)}, cwd=repo_root)
    try:
        records = slurmtools.wait_for(job, timeout=300)
    finally:
        slurmtools.cancel(job)
    slurmtools.assert_completed(records)
    return records, run_dir


def test_tiny_pretrain_on_two_nodes(reference_run):
    records, run_dir = reference_run
    assert records[0]["NumNodes"] == "2"
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == f"step_{STEPS:08d}"
    assert (run_dir / "config.yaml").is_file() and (run_dir / "wandb").is_dir()
    loss = losses(run_dir)
    assert sorted(loss) == list(range(1, STEPS + 1))
    first, last = [loss[s] for s in range(1, 5)], [loss[s] for s in range(STEPS - 3, STEPS + 1)]
    assert sum(last) < sum(first) - 0.5, f"loss did not fall: {first} -> {last}"


def test_requeue_resumes_to_the_same_final_loss(slurm, cpu_job_args, tmp_path, reference_run):
    run_dir = tmp_path / "requeued"
    job = submit_tiny(slurm, cpu_job_args, run_dir)

    def stepping():
        if slurm.job_state(job) not in {"PENDING", "RUNNING", "CONFIGURING"}:
            raise AssertionError(f"job {job} ended early:\n{slurm.job_output(job)[-3000:]}")
        return (run_dir / "metrics.jsonl").is_file() and max(losses(run_dir), default=0) >= 6

    slurm.wait_until(stepping, timeout=240, what="the trainer to pass step 6")
    slurm.signal_batch(job, "USR1")
    records = slurm.wait_for(job, timeout=300)
    slurm.assert_completed(records)
    assert records[0]["Restarts"] == "1"

    preempted = [m for m in metrics(run_dir) if m.get("event") == "preempted"]
    assert len(preempted) == 1 and 6 <= preempted[0]["step"] < STEPS, preempted
    assert "resumed from" in slurm.job_output(job)
    reference = losses(reference_run[1])
    assert losses(run_dir)[STEPS] == reference[STEPS]  # bit-identical: exact resume of data, RNG, optimizer
