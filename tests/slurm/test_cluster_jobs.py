"""Real Slurm: the test cluster is up, and srun tasks on two nodes meet through biomamba.slurm."""

from __future__ import annotations

import json
import subprocess

import pytest

from biomamba.slurm import expand_nodelist, master_port_from_job_id

pytestmark = pytest.mark.slurm


def test_two_nodes_respond(slurm_cluster):
    out = subprocess.run(["sinfo", "-h", "-N", "-p", slurm_cluster.partition, "-o", "%N %T"],
                         capture_output=True, text=True, check=True).stdout
    states = dict(line.split() for line in out.splitlines())
    responding = [n for n, s in states.items() if s in {"idle", "mixed", "allocated", "completing"}]
    assert len(responding) >= 2, f"need two responding nodes in {slurm_cluster.partition}: {states}"


@pytest.mark.parametrize("tasks_per_node", [1, 2])
def test_gloo_all_reduce_across_two_nodes(slurm, slurm_cluster, tmp_path, venv_python, tasks_per_node):
    # No MASTER_ADDR/PORT from the batch shell: each task derives them (scontrol + job id).
    job = slurm.submit(
        wrap=f"unset MASTER_ADDR MASTER_PORT; srun {venv_python} tests/slurm/jobs/allreduce.py {tmp_path}",
        sbatch_args=[f"--partition={slurm_cluster.partition}", "--nodes=2", f"--ntasks-per-node={tasks_per_node}",
                     "--time=5", f"--output={tmp_path}/job-%j.out", f"--export=ALL,PYTHONPATH={slurm.repo_root}"],
    )
    records = slurm.wait_for(job, timeout=120)
    slurm.assert_completed(records)
    world = 2 * tasks_per_node
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]
    nodes = expand_nodelist(records[0]["NodeList"])
    for rank, rec in enumerate(ranks):
        env = rec["env"]
        assert rec["sum"] == world * (world + 1) / 2  # every rank took part
        assert rec["backend"] == "gloo" and env["source"] == "slurm"
        assert (env["rank"], env["world_size"], env["num_nodes"]) == (rank, world, 2)
        # srun's default block distribution: ranks 0..k-1 on the first node.
        assert (env["node_rank"], env["local_rank"]) == divmod(rank, tasks_per_node)
        assert env["local_world_size"] == tasks_per_node
        assert env["master_addr"] == nodes[0]
        assert env["master_port"] == master_port_from_job_id(job) and env["job_id"] == job
