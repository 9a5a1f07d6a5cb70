"""biomamba.slurm without a cluster: rank/world/rendezvous from the environment Slurm,
torchrun or DeepSpeed give a process.  The environments below are the variables
those launchers really set (checked against srun 22.05 in tests/slurm/test_cluster_jobs.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from biomamba.slurm import (
    PORT_BASE,
    PORT_SPAN,
    DistEnv,
    expand_nodelist,
    export_torch_env,
    master_port_from_job_id,
    parse_nodelist,
    tasks_on_node,
)

# What srun gives task 5 of `srun --nodes=2 --ntasks-per-node=4` in job 4242.
SRUN_TASK_5 = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NODELIST": "gpu[07-08]",
    "SLURM_STEP_NODELIST": "gpu[07-08]",
    "SLURM_STEP_ID": "0",
    "SLURM_PROCID": "5",
    "SLURM_NTASKS": "8",
    "SLURM_STEP_NUM_TASKS": "8",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "1",
    "SLURM_NNODES": "2",
    "SLURM_STEP_NUM_NODES": "2",
    "SLURM_STEP_TASKS_PER_NODE": "4(x2)",
    "SLURM_TASKS_PER_NODE": "4(x2)",
}


def test_no_launcher_is_a_single_process():
    env = DistEnv.from_environ({})
    assert (env.rank, env.world_size, env.local_rank, env.num_nodes) == (0, 1, 0, 1)
    assert env.source == "single" and not env.is_distributed and env.is_main
    assert env.restart_count == 0 and env.job_id is None


def test_batch_shell_is_not_a_task():
    # The batch script sees SLURM_PROCID=0 and the job's SLURM_NTASKS but no step id.
    batch = {k: v for k, v in SRUN_TASK_5.items() if not k.startswith("SLURM_STEP")}
    batch.update(SLURM_PROCID="0", SLURM_LOCALID="0", SLURM_NODEID="0")
    env = DistEnv.from_environ(batch)
    assert env.source == "single" and env.world_size == 1
    assert env.job_id == "4242" and env.master_port == master_port_from_job_id(4242)


def test_srun_task():
    env = DistEnv.from_environ(SRUN_TASK_5)
    assert env.source == "slurm"
    assert (env.rank, env.world_size, env.local_rank, env.local_world_size) == (5, 8, 1, 4)
    assert (env.node_rank, env.num_nodes) == (1, 2)
    assert env.master_addr == "gpu07"
    assert env.master_port == master_port_from_job_id("4242")
    assert env.job_id == "4242" and not env.is_main and env.is_distributed


def test_srun_task_uses_exported_master():
    env = DistEnv.from_environ({**SRUN_TASK_5, "MASTER_ADDR": "10.0.0.7", "MASTER_PORT": "23456"})
    assert (env.master_addr, env.master_port) == ("10.0.0.7", 23456)


def test_uneven_tasks_per_node():
    task = {**SRUN_TASK_5, "SLURM_STEP_TASKS_PER_NODE": "2(x2),1", "SLURM_NODEID": "2",
            "SLURM_NTASKS": "5", "SLURM_STEP_NUM_TASKS": "5", "SLURM_PROCID": "4", "SLURM_LOCALID": "0"}
    env = DistEnv.from_environ(task)
    assert (env.rank, env.world_size, env.local_world_size, env.node_rank) == (4, 5, 1, 2)


def test_torchrun_inside_srun_wins():
    # One torchrun per node under srun: torchrun's ranks are global, SLURM_PROCID is the node.
    env = DistEnv.from_environ({
        **SRUN_TASK_5, "SLURM_PROCID": "1", "SLURM_NTASKS": "2",
        "TORCHELASTIC_RUN_ID": "4242", "RANK": "13", "WORLD_SIZE": "16", "LOCAL_RANK": "5",
        "LOCAL_WORLD_SIZE": "8", "GROUP_RANK": "1", "MASTER_ADDR": "gpu07", "MASTER_PORT": "29400",
    })
    assert env.source == "torch"
    assert (env.rank, env.world_size, env.local_rank, env.local_world_size) == (13, 16, 5, 8)
    assert (env.node_rank, env.num_nodes, env.master_port) == (1, 2, 29400)


def test_deepspeed_launcher():
    env = DistEnv.from_environ({
        "RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "CROSS_RANK": "1", "CROSS_SIZE": "2",
        "LOCAL_SIZE": "2", "MASTER_ADDR": "node1", "MASTER_PORT": "29500",
    })
    assert env.source == "torch"
    assert (env.rank, env.local_rank, env.local_world_size, env.node_rank, env.num_nodes) == (3, 1, 2, 1, 2)


def test_plain_rank_variables_default_the_rest():
    env = DistEnv.from_environ({"RANK": "2", "WORLD_SIZE": "3"})
    assert (env.rank, env.world_size, env.local_rank, env.node_rank, env.num_nodes) == (2, 3, 2, 0, 1)


def test_array_and_restart_fields():
    env = DistEnv.from_environ({
        "SLURM_JOB_ID": "101", "SLURM_ARRAY_JOB_ID": "100", "SLURM_ARRAY_TASK_ID": "1",
        "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_RESTART_COUNT": "2",
    })
    assert (env.job_id, env.array_job_id, env.array_task_id, env.array_task_count) == ("101", "100", 1, 4)
    assert env.restart_count == 2


def test_bad_integer_names_the_variable():
    with pytest.raises(ValueError, match="SLURM_PROCID='x'"):
        DistEnv.from_environ({**SRUN_TASK_5, "SLURM_PROCID": "x"})


def test_master_port_is_deterministic_distinct_and_unprivileged():
    ports = [master_port_from_job_id(i) for i in range(1000, 1100)]
    assert len(set(ports)) == len(ports)
    assert all(PORT_BASE <= p < PORT_BASE + PORT_SPAN < 32768 for p in ports)
    assert master_port_from_job_id("1234") == master_port_from_job_id(1234)
    assert master_port_from_job_id("123_4") != master_port_from_job_id("123_5")


def test_tasks_on_node():
    assert [tasks_on_node("2(x3),1", i) for i in range(4)] == [2, 2, 2, 1]
    with pytest.raises(ValueError):
        tasks_on_node("2(x3),1", 4)
    with pytest.raises(ValueError):
        tasks_on_node("two", 0)


@pytest.mark.parametrize(
    "nodelist, hosts",
    [
        ("node1", ["node1"]),
        ("node[01-03,07],gpu5", ["node01", "node02", "node03", "node07", "gpu5"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("n[08-10]", ["n08", "n09", "n10"]),
        ("rack[1-2]-n[3-4]", ["rack1-n3", "rack1-n4", "rack2-n3", "rack2-n4"]),
        ("a,b[1,3],c", ["a", "b1", "b3", "c"]),
        ("bmnode[1-2]", ["bmnode1", "bmnode2"]),
    ],
)
def test_parse_nodelist(nodelist, hosts):
    assert parse_nodelist(nodelist) == hosts


@pytest.mark.parametrize("bad", ["node[1-2", "node1-2]", "n[3-1]", "n[a-b]", "a,,b", ""])
def test_parse_nodelist_rejects(bad):
    with pytest.raises(ValueError):
        parse_nodelist(bad) if bad else expand_nodelist(bad)


def test_expand_nodelist_without_scontrol(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no scontrol, as on a laptop
    assert expand_nodelist("gpu[07-08]") == ["gpu07", "gpu08"]


def test_parser_agrees_with_scontrol():
    scontrol = shutil.which("scontrol")
    if not scontrol:
        pytest.skip("scontrol not installed")
    lists = ["node[01-03,07],gpu5", "n[08-10]", "rack[1-2]-n[3-4]", "a,b[1,3],c"]
    for nodelist in lists:
        proc = subprocess.run([scontrol, "show", "hostnames", nodelist], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"scontrol cannot run here (no slurm.conf?): {proc.stderr.strip()[:200]}")
        assert parse_nodelist(nodelist) == proc.stdout.split(), nodelist


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_export_torch_env_initialises_torch_distributed(monkeypatch):
    import torch.distributed as dist

    env = DistEnv(master_addr="127.0.0.1", master_port=_free_port())
    # setenv records each original value so teardown restores it after export overwrites.
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(key, "placeholder")
    exported = export_torch_env(env)
    assert exported["RANK"] == "0" and exported["MASTER_PORT"] == str(env.master_port)
    dist.init_process_group("gloo", init_method="env://")
    try:
        assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    finally:
        dist.destroy_process_group()
