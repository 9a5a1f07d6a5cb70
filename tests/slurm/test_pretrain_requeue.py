"""Real Slurm: slurm/pretrain.sh forwards SIGUSR1, requeues on exit 75, resumes; SIGTERM never requeues.

The trainer is tests/slurm/jobs/standin_trainer.py (BIOMAMBA_TRAIN_CMD): it keeps
launcher/train.py's contract (rendezvous, checkpoint on signal, exit 75, resume)
without a model, so these tests check the shell and Slurm side on their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biomamba.slurm import expand_nodelist, master_port_from_job_id

pytestmark = pytest.mark.slurm


def events(run_dir: Path) -> list[dict]:
    out = []
    for path in sorted(run_dir.glob("events.rank*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def of(evts: list[dict], name: str, restart: int | None = None) -> list[dict]:
    return [e for e in evts if e["event"] == name and (restart is None or e["restart"] == restart)]


@pytest.fixture
def pretrain(slurm, cpu_job_args, tmp_path, venv_python):
    """Submit slurm/pretrain.sh with the stand-in trainer; returns (job_id, run_dir)."""
    config = tmp_path / "tiny.yaml"
    config.write_text("stand-in: the trainer below does not read it\n")

    def submit(*overrides: str, sbatch_extra=()):
        run_dir = tmp_path / "run"
        env = {
            "BIOMAMBA_TRAIN_CMD": f"{venv_python} -u tests/slurm/jobs/standin_trainer.py",
            "BIOMAMBA_RUN_DIR": str(run_dir),
            "BIOMAMBA_SRUN_WAIT": "30",
        }
        job = slurm.submit("slurm/pretrain.sh", str(config), *overrides,
                           sbatch_args=[*cpu_job_args(nodes=2), *sbatch_extra], env=env)
        return job, run_dir

    return submit


def wait_ready(slurm, run_dir: Path, restart: int, job: str) -> None:
    def ready():
        state = slurm.job_state(job)
        if state not in {"PENDING", "RUNNING", "CONFIGURING"}:
            raise AssertionError(f"job {job} ended ({state}) before both ranks were ready:\n{slurm.job_output(job)}")
        return len(of(events(run_dir), "ready", restart)) == 2

    slurm.wait_until(ready, timeout=90, what=f"both ranks of run {restart} to start stepping")


@pytest.mark.slow
def test_usr1_checkpoints_requeues_and_resumes(slurm, pretrain):
    job, run_dir = pretrain("train.max_steps=7", "standin.save_seconds=2")
    wait_ready(slurm, run_dir, restart=0, job=job)
    slurm.signal_batch(job, "USR1")  # what --signal=B:USR1@120 sends before the time limit
    records = slurm.wait_for(job, timeout=120)
    slurm.assert_completed(records)
    assert records[0]["Restarts"] == "1"

    evts = events(run_dir)
    saved = of(evts, "checkpointed", 0)
    assert len(saved) == 2, evts
    first_save = int((run_dir / "checkpoints/latest").read_text())
    assert [e["step"] for e in saved] == [first_save] * 2, "ranks stopped at different steps"
    # srun passed the batch shell's SIGUSR1 to every task (recorded after the 2 s "save").
    assert [e["signal"] for e in saved] == [["SIGUSR1"]] * 2, saved
    resumed = of(evts, "start", 1)
    assert [e["step"] for e in resumed] == [first_save, first_save]
    done = of(evts, "done", 1)
    assert [e["step"] for e in done] == [first_save + 5] * 2

    for start in of(evts, "start"):
        assert start["argv"][-2:] == ["train.max_steps=7", "standin.save_seconds=2"]
        assert start["world_size"] == 2
        env = start["env"]
        assert env["MASTER_ADDR"] == expand_nodelist(records[0]["NodeList"])[0]
        assert env["MASTER_PORT"] == str(master_port_from_job_id(job))
        assert env["BIOMAMBA_DIST_BACKEND"] == "gloo"
        assert env["WANDB_MODE"] == "offline" and env["WANDB_DIR"] == str(run_dir)
        assert start["argv"][2] == f"run_dir={run_dir}"  # BIOMAMBA_RUN_DIR becomes the first override
        assert env["TRITON_CACHE_DIR"] and not env["TRITON_CACHE_DIR"].startswith(str(run_dir))
    output = slurm.job_output(job)
    # Run 1 logs the requeue (Slurm then ends it); run 2 appends (--open-mode=append) and finishes.
    assert "requeueing job" in output and output.count("restart=") == 2, output
    assert output.rstrip().endswith("tasks exited with 0"), output


@pytest.mark.slow
def test_scancel_lets_tasks_save_and_is_not_requeued(slurm, pretrain):
    # Slurm SIGTERMs every task and allows KillWait (30 s) before SIGKILL: a 3 s save completes.
    job, run_dir = pretrain("standin.save_seconds=3")
    wait_ready(slurm, run_dir, restart=0, job=job)
    slurm.cancel(job)
    records = slurm.wait_for(job, timeout=90)
    assert records[0]["JobState"] == "CANCELLED" and records[0]["Restarts"] == "0"
    saved = of(events(run_dir), "checkpointed", 0)
    assert len(saved) == 2 and saved[0]["signal"] == ["SIGTERM"], saved


def test_bad_config_exit_code_reaches_slurm(slurm, pretrain):
    job, run_dir = pretrain("standin.exit=2")
    records = slurm.wait_for(job, timeout=60)
    assert (records[0]["JobState"], records[0]["ExitCode"], records[0]["Restarts"]) == ("FAILED", "2:0", "0")


def test_config_error_fails_on_the_batch_node(slurm, pretrain):
    job, run_dir = pretrain("standin.dry_run_exit=2")
    records = slurm.wait_for(job, timeout=60)
    assert (records[0]["JobState"], records[0]["ExitCode"]) == ("FAILED", "2:0")
    assert "config error" in slurm.job_output(job) and not run_dir.exists()


def test_missing_config_fails_before_srun(slurm, cpu_job_args, tmp_path):
    job = slurm.submit("slurm/pretrain.sh", str(tmp_path / "nope.yaml"), sbatch_args=cpu_job_args(nodes=1))
    records = slurm.wait_for(job, timeout=60)
    assert (records[0]["JobState"], records[0]["ExitCode"]) == ("FAILED", "2:0")
    assert "config" in slurm.job_output(job) and "not found" in slurm.job_output(job)


@pytest.mark.slow
def test_time_limit_signal_requeues(slurm, pretrain):
    # The real path: Slurm itself sends B:USR1 before the time limit (5 min here, so
    # --signal=B:USR1@150 overrides the script's @120); no signal from the test.  sbatch(1):
    # "the signal may be sent up to 60 seconds earlier than specified", so it comes 90-150 s
    # after the start. The requeued run gets the same limit and must finish (5 steps) before its
    # own signal: at least 90 s; the 0-30 s that --time=2 @90 left were once exceeded under CI load.
    job, run_dir = pretrain(sbatch_extra=["--time=5", "--signal=B:USR1@150"])
    records = slurm.wait_for(job, timeout=420)
    slurm.assert_completed(records)
    assert records[0]["Restarts"] == "1"
    saved = of(events(run_dir), "checkpointed", 0)
    assert len(saved) == 2 and any(e["signal"] == ["SIGUSR1"] for e in saved), saved
    assert [e["step"] for e in of(events(run_dir), "done", 1)] == [saved[0]["step"] + 5] * 2


def test_usr1_before_the_tasks_start_requeues_without_starting_them(slurm, pretrain):
    # The signal lands while the batch shell still checks the config (5 s here).
    job, run_dir = pretrain("standin.dry_run_sleep=5", "standin.fresh_steps=3")
    marker = run_dir.parent / "dry_run_started"
    slurm.wait_until(marker.exists, timeout=60, what="the batch shell to start the config check")
    slurm.signal_batch(job, "USR1")
    records = slurm.wait_for(job, timeout=120)
    slurm.assert_completed(records)
    assert records[0]["Restarts"] == "1"
    evts = events(run_dir)
    assert of(evts, "start", 0) == [], "tasks were started although the time limit was near"
    assert [e["step"] for e in of(evts, "done", 1)] == [3, 3]
    assert "requeueing without starting them" in slurm.job_output(job)
