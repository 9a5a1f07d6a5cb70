"""Training throughput on CPU, 2 processes: BioMamba's engine vs a plain HF Trainer, two ways.

All runs: same model config and initial weights, same global batch (micro-batch × 2
processes) and sequence length, synthetic tokens, fp32, AdamW, gloo. Ours is
``torchrun launcher/train.py`` (DeepSpeed ZeRO-1, fast scan); the baselines are
benchmarks/hf_trainer_baseline.py under torchrun (DDP, ``ddp_find_unused_parameters=False``):

* engine only: the HF ``Trainer`` driving **our** ``MambaLM`` (same model, same scan), so the
  ratio is the engine's alone;
* whole system: the HF ``Trainer`` driving ``transformers.MambaForCausalLM`` (its slow path on
  CPU), so the ratio mixes the engine with the model's scan.

Targets: whole system >= 3x; engine only >= 1x (the engine must not cost throughput).

    python benchmarks/bench_train.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import bench_line, record_results  # noqa: E402
from biomamba.pipeline import CPU_MALLOC_ENV  # noqa: E402
from tests.train.launch import free_port, torchrun_cmd  # noqa: E402

# glibc returns every large buffer to the OS by default, so each big allocation page-faults
# afresh; HF's slow-path backward allocates a full-size zero gradient per time step and spends
# most of its time in the kernel. Both runs get the same allocator settings (keep freed memory).
ENV = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **CPU_MALLOC_ENV}


def model_overrides(scale: str) -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "configs" / "model" / f"{scale}.yaml").read_text())
    return [f"model.{k}={json.dumps(v)}" for k, v in data.items()]


def run_ours(scale: str, seq: int, mb: int, steps: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        cmd = torchrun_cmd(2, ROOT / "configs/pretrain/tiny_synthetic.yaml", [
            *model_overrides(scale), f"run_dir={d}", f"max_steps={steps}",
            "log_every=1", f"data.seq_len={seq}", f"data.micro_batch_size={mb}", "parallel.precision=fp32",
            "parallel.zero_stage=1", "eval.every_steps=0", "eval.at_end=false", f"checkpoint.every_steps={10**6}",
            "schedule.warmup_steps=1"])
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-4000:])
        recs = [json.loads(line) for line in (Path(d) / "metrics.jsonl").read_text().splitlines()]
        times = [r["time_data_s"] + r["time_compute_s"] for r in recs if "loss" in r and r["step"] > warmup]
        return mb * 2 * seq * len(times) / sum(times)


def run_hf(model: str, scale: str, seq: int, mb: int, steps: int, warmup: int) -> float:
    """HF Trainer tokens/s driving ``model``: "ours" (our MambaLM) or "hf" (MambaForCausalLM)."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               str(ROOT / "benchmarks" / "hf_trainer_baseline.py"), "--model", model, "--scale", scale, "--seq", str(seq),
               "--micro-batch", str(mb), "--steps", str(steps), "--warmup", str(warmup), "--out", d]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-4000:])
        line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
        return json.loads(line)["tokens_per_s"]


def record(rows: list[str], lines: list[str]) -> None:
    record_results(
        "bench_train",
        "2 processes (gloo), fp32, synthetic tokens, all with `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1e11`. "
        "Engine only = HF `Trainer` driving our `MambaLM` (same model and scan as ours: the engine's share); "
        "whole system = HF `Trainer` + `MambaForCausalLM` (engine and scan both differ). Each run: the same "
        "steps and untimed warm-up steps. `python benchmarks/bench_train.py [--scales tiny 130m]`\n\n"
        "| scale | seq | global batch | BioMamba engine tok/s | HF Trainer + our MambaLM tok/s | engine only "
        "| HF Trainer + MambaForCausalLM tok/s | whole system |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n\n```\n" + "\n".join(lines) + "\n```",
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--scales", nargs="+", choices=["tiny", "130m"], default=["tiny", "130m"])
    args = p.parse_args()
    # (scale, seq, micro-batch, steps, untimed warm-up steps), the same for all three runs of a case.
    full = {"tiny": ("tiny", 512, 4, 4, 1), "130m": ("130m", 128, 2, 3, 1)}
    cases = [("tiny", 256, 4, 4, 1)] if args.quick else [full[s] for s in args.scales]
    rows, lines = [], []
    for scale, seq, mb, steps, warmup in cases:
        ours = run_ours(scale, seq, mb, steps, warmup)
        print(f"{scale} seq {seq} global batch {2 * mb}: BioMamba engine {ours:,.0f} tok/s", flush=True)
        engine = run_hf("ours", scale, seq, mb, steps, warmup)
        print(f"{scale} seq {seq} global batch {2 * mb}: HF Trainer + our MambaLM {engine:,.0f} tok/s", flush=True)
        whole = run_hf("hf", scale, seq, mb, steps, warmup)
        print(f"{scale} seq {seq} global batch {2 * mb}: HF Trainer + MambaForCausalLM {whole:,.0f} tok/s", flush=True)
        rows.append(f"| {scale} | {seq} | {2 * mb} | {ours:,.1f} | {engine:,.1f} | {ours / engine:.2f}x "
                    f"| {whole:,.1f} | {ours / whole:.1f}x |")
        lines.append(bench_line(f"train_engine_speedup_vs_hf_trainer_same_model_{scale}_{seq}", ours / engine, ">=", 1))
        lines.append(bench_line(f"train_speedup_vs_hf_trainer_{scale}_{seq}", ours / whole, ">=", 3))
        if not args.quick:
            record(rows, lines)  # after every case, so a long run that is stopped keeps what it measured

if __name__ == "__main__":
    main()
