"""Fixtures for tests that need a real Slurm cluster (marked ``@pytest.mark.slurm``).

``slurm_cluster`` (session): the cluster must answer ``sinfo``.  .ci/run starts
the one-host test cluster with ``tests/slurm/cluster.sh start``; with
``BIOMAMBA_SLURM_AUTOSTART=1`` the fixture starts it itself (and stops it at
the end).  When no cluster answers the tests skip, except with
``BIOMAMBA_REQUIRE_SLURM=1`` (set by CI), where they fail: CI must never pass by
skipping.

``slurm`` (per test): ``submit(...)``, ``wait_for(job_id, timeout)``,
``job_state(job_id)`` ... bound to the cluster; every job a test submits is
cancelled when the test ends, so a failing test leaves no job behind.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from . import slurmtools

HARNESS = Path(__file__).with_name("cluster.sh")


@dataclasses.dataclass
class SlurmCluster:
    partition: str


def _require() -> bool:
    return os.environ.get("BIOMAMBA_REQUIRE_SLURM") == "1"


@pytest.fixture(scope="session")
def slurm_cluster():
    reason = slurmtools.cluster_answers()
    started = False
    if reason and os.environ.get("BIOMAMBA_SLURM_AUTOSTART") == "1":
        proc = subprocess.run(["bash", str(HARNESS), "start"], capture_output=True, text=True)
        if proc.returncode != 0:
            reason = f"{HARNESS} start failed:\n{proc.stdout}\n{proc.stderr}"
        else:
            started, reason = True, slurmtools.cluster_answers()
    if reason:
        message = f"no Slurm cluster: {reason} (start one with: sudo {HARNESS} install && sudo {HARNESS} start)"
        if _require():
            pytest.fail(f"BIOMAMBA_REQUIRE_SLURM=1 but {message}", pytrace=False)
        pytest.skip(message)
    yield SlurmCluster(partition=os.environ.get("BIOMAMBA_SLURM_PARTITION") or slurmtools.default_partition())
    if started:
        subprocess.run(["bash", str(HARNESS), "stop"], capture_output=True, text=True)


class Slurm:
    """slurmtools bound to one test: remembers its jobs so they can be cancelled afterwards."""

    def __init__(self, cluster: SlurmCluster, repo_root: Path):
        self.cluster = cluster
        self.repo_root = repo_root
        self.job_ids: list[str] = []

    def submit(self, script=None, *args, sbatch_args=(), wrap=None, env=None, cwd=None) -> str:
        job_id = slurmtools.submit(script, *args, sbatch_args=sbatch_args, wrap=wrap, env=env,
                                   cwd=cwd or self.repo_root)
        self.job_ids.append(job_id)
        return job_id

    cancel = staticmethod(slurmtools.cancel)
    wait_for = staticmethod(slurmtools.wait_for)
    wait_until = staticmethod(slurmtools.wait_until)
    job_state = staticmethod(slurmtools.job_state)
    job_records = staticmethod(slurmtools.job_records)
    job_output = staticmethod(slurmtools.job_output)
    signal_batch = staticmethod(slurmtools.signal_batch)
    assert_completed = staticmethod(slurmtools.assert_completed)


@pytest.fixture
def slurm(slurm_cluster, repo_root):
    helper = Slurm(slurm_cluster, repo_root)
    yield helper
    slurmtools.cancel(*helper.job_ids)


@pytest.fixture(scope="session")
def venv_python(repo_root) -> str:
    """The python the jobs run (the project's venv when there is one)."""
    candidate = repo_root / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else "python3"


@pytest.fixture
def cpu_job_args(slurm_cluster, tmp_path):
    """sbatch options that fit slurm/*.sh GPU defaults onto the CPU test nodes.

    Command-line options override the scripts' #SBATCH lines, as a user would on
    their own cluster.  Output goes to tmp_path/<job name>-<job id>.out.
    """

    def args(nodes: int = 2, time_minutes: int = 10) -> list[str]:
        return [
            f"--partition={slurm_cluster.partition}", f"--nodes={nodes}", "--gpus-per-node=0",
            "--ntasks-per-node=1", f"--time={time_minutes}", f"--output={tmp_path}/%x-%j.out",
        ]

    return args
