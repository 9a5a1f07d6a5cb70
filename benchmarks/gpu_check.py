"""One prepared GPU session: correctness and speed of BioMamba's CUDA path (run on the lent GPU machine).

1. Fast scan vs the sequential reference on CUDA (fp64 and fp32: output and every gradient).
2. mamba_ssm's CUDA kernel, if importable (it is not in the lent image; reported as such).
3. Plain-PyTorch 130m training step in bf16 autocast: tokens/s, MFU, and peak memory against the
   planner's ``predicted_peak_bytes`` (backend ``cuda-torch``: our scan, F.conv1d).
4. The engine (``launcher/train.py``, DeepSpeed ZeRO-1, 1 GPU, synthetic tokens) at 130m and 1.4b
   in bf16: tokens/s/GPU and MFU as it logs them.

    python benchmarks/gpu_check.py --out DIR      # writes DIR/gpu_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scan_check() -> dict:
    from biomamba.ops import selective_scan_fast, selective_scan_reference
    from tests.ops.scan_inputs import make_scan_inputs

    out = {}
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        worst = 0.0
        for case in [(2, 64, 16, 257, "var"), (1, 32, 8, 100, "const"), (2, 64, 16, 129, "group")]:
            b, d, n, L, bc = case
            inp = make_scan_inputs(b, d, n, L, bc, dtype)
            inp = {k: (v.detach().cuda().requires_grad_() if v is not None else None) for k, v in inp.items()}
            res = []
            for fn, kw in ((selective_scan_reference, {}), (selective_scan_fast, {"chunk_size": 64})):
                for v in inp.values():
                    if v is not None:
                        v.grad = None
                o = fn(**inp, delta_softplus=True, **kw)
                g = torch.randn(o.shape, generator=torch.Generator().manual_seed(0), dtype=o.dtype).cuda()
                (o * g).sum().backward()
                res.append([o.detach()] + [v.grad.clone() for v in inp.values() if v is not None])
            for a, r in zip(res[1], res[0]):
                worst = max(worst, ((a - r).abs().max() / r.abs().max().clamp_min(1e-30)).item())
        out[str(dtype).split(".")[-1]] = {"max_rel_err": worst, "tolerance": tol, "pass": worst < tol}
    # scan alone at 130m's width
    b, d, n, L = 4, 1536, 16, 2048
    inp = make_scan_inputs(b, d, n, L, "var", torch.float32)
    inp = {k: (v.detach().cuda().requires_grad_() if v is not None else None) for k, v in inp.items()}
    for chunk in (64, 256):
        for _ in range(2):
            torch.cuda.synchronize()
            t = time.perf_counter()
            selective_scan_fast(**inp, delta_softplus=True, chunk_size=chunk).sum().backward()
            torch.cuda.synchronize()
            el = time.perf_counter() - t
        out[f"scan_fwdbwd_ms_b4_d1536_L2048_chunk{chunk}"] = el * 1e3
    return out


def mamba_ssm_check() -> dict:
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn  # noqa: F401 (availability probe)
    except Exception as exc:
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"[:300]}
    return {"available": True}


def plain_step(scale: str, micro_batch: int, seq: int, steps: int = 4) -> dict:
    from biomamba.config import load_config
    from biomamba.model import MambaConfig, MambaLM, flops_per_token
    from biomamba.plan.memory import predicted_peak_bytes
    from biomamba.train.optim import build_optimizer
    from biomamba.train.config import OptimConfig

    cfg = load_config(MambaConfig, ROOT / "configs" / "model" / f"{scale}.yaml", ["scan_impl=fast"])
    model = MambaLM(cfg, device="cuda").init_weights(0)
    opt = build_optimizer(model, OptimConfig(), "cuda")
    x = torch.randint(0, cfg.vocab_size, (micro_batch, seq + 1), device="cuda")
    times = []
    for i in range(steps):
        if i == 1:
            torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().view(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        del logits
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    step = min(times[1:])
    tps = micro_batch * seq / step
    peak = torch.cuda.max_memory_allocated()
    pred = predicted_peak_bytes(cfg, micro_batch, seq, precision="bf16", backend="cuda-torch")
    return {"scale": scale, "micro_batch": micro_batch, "seq": seq, "step_s": step, "tokens_per_s": tps,
            "tflops": flops_per_token(cfg) * tps / 1e12, "peak_mem_gb": peak / 2**30,
            "planner_predicted_gb": pred / 2**30, "planner_error": (pred - peak) / peak}


def engine_run(scale: str, micro_batch: int, seq: int, steps: int, extra=()) -> dict:
    from benchmarks.bench_train import model_overrides

    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--master_port=29611",
               str(ROOT / "launcher" / "train.py"), "--config", str(ROOT / "configs/pretrain/tiny_synthetic.yaml"),
               *model_overrides(scale), f"run_dir={d}", f"max_steps={steps}",
               "log_every=1", f"data.seq_len={seq}", f"data.micro_batch_size={micro_batch}", "parallel.precision=bf16",
               "parallel.zero_stage=1", "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=1000000",
               "schedule.warmup_steps=1", *extra]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "disabled"}, cwd=ROOT)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            return {"scale": scale, "error": proc.stderr[-3000:]}
        recs = [json.loads(line) for line in (Path(d) / "metrics.jsonl").read_text().splitlines()]
        steps_ = [r for r in recs if "loss" in r and r["step"] > 2]
        best = max(steps_, key=lambda r: r["tokens_per_s"])
        return {"scale": scale, "micro_batch": micro_batch, "seq": seq, "wall_s": wall,
                "tokens_per_s_per_gpu": best["tokens_per_s_per_device"], "tflops_per_gpu": best["tflops_per_device"],
                "mfu": best.get("mfu"), "mem_alloc_gb": best.get("mem_alloc_gb"),
                "losses": [round(r["loss"], 4) for r in recs if "loss" in r]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save():
        (out / "gpu_results.json").write_text(json.dumps(res, indent=2))

    for name, fn in [("scan", scan_check), ("mamba_ssm", mamba_ssm_check),
                     ("plain_130m", lambda: plain_step("130m", 8, 2048)),
                     ("engine_130m", lambda: engine_run("130m", 8, 2048, 8)),
                     ("engine_1.4b", lambda: engine_run("1.4b", 4, 2048, 5))]:
        t = time.perf_counter()
        try:
            res[name] = fn()
        except Exception as exc:  # keep going: one failure must not lose the other numbers
            res[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        res[name + "_seconds"] = time.perf_counter() - t
        print(name, json.dumps(res[name])[:1500], flush=True)
        save()


if __name__ == "__main__":
    main()
