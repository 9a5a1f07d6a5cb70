"""``python -m data_prep plan``: per-stage wall time and memory from the RATE lines of RESULTS.md."""

from __future__ import annotations

import pytest

from data_prep.cli import main
from data_prep.prep_plan import NEEDED, PlanError, plan_rows, read_rates

RATES = {k: 1000.0 for k in NEEDED} | {
    "prep_tokens_per_doc": 300.0, "prep_bytes_per_doc": 2000.0, "prep_extract_peak_rss_bytes": 2.5e8,
    "neardedup_task_base_rss_bytes": 9e7, "neardedup_bucket_members_per_doc": 0.5,
    "neardedup_single_rss_bytes_per_doc": 2000.0,
}


def results_file(tmp_path, rates=RATES):
    p = tmp_path / "RESULTS.md"
    p.write_text("# results\n\n```\n" + "".join(f"RATE {k} {v}\n" for k, v in rates.items()) + "```\n")
    return p


def test_plan_scales_with_tasks_and_bounds_memory():
    few, many = plan_rows(RATES, 8, citations=1_000_000), plan_rows(RATES, 64, citations=1_000_000)
    by = {r["stage"]: r for r in few}, {r["stage"]: r for r in many}
    assert by[1]["extract pubmed"]["wall_s"] == pytest.approx(by[0]["extract pubmed"]["wall_s"] / 8)
    assert by[1]["neardedup buckets"]["tasks"] == 9  # one task per LSH band at most
    assert by[1]["clean (exact dedup)"]["wall_s"] == by[0]["clean (exact dedup)"]["wall_s"]  # one process
    # 1M citations at 1000/s per core on 8 tasks: 125 s
    assert by[0]["extract pubmed"]["wall_s"] == pytest.approx(125.0)
    single = next(r for r in few if r["stage"].startswith("("))
    assert max(r["peak_bytes"] for r in few if r["stage"].startswith("neardedup")) < single["peak_bytes"]


def test_plan_command_prints_every_stage(tmp_path, capsys):
    assert main(["plan", "--tasks", "16", "--results", str(results_file(tmp_path))]) == 0
    out = capsys.readouterr().out
    for stage in ("extract pubmed", "neardedup signatures", "neardedup buckets", "neardedup clusters",
                  "neardedup filter", "split", "shard", "Total wall time"):
        assert stage in out


def test_missing_rates_name_the_benchmark(tmp_path, capsys):
    rates = {k: v for k, v in RATES.items() if not k.startswith("neardedup")}
    with pytest.raises(PlanError, match="benchmarks/bench_neardedup.py"):
        read_rates(results_file(tmp_path, rates))
    assert main(["plan", "--results", str(results_file(tmp_path, rates))]) == 2
    assert "run benchmarks/bench_neardedup.py" in capsys.readouterr().err
