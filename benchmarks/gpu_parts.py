"""Measurements of benchmarks/gpu_check.py (one function per phase; each returns a JSON-able dict).

Timing: CUDA events after warm-up (compilation and Triton autotuning happen in the warm-up calls);
the median of ``repeats``. Every candidate is timed in the same function with the same warm-up and
repeats. On CPU (--smoke) wall-clock time replaces the events; those numbers only prove the code runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# Dense bandwidth of the card's HBM (vendor figures, bytes/s). Unknown cards use the measured copy rate.
HBM_BYTES_PER_S = {"H200": 4.8e12, "H100": 3.35e12, "A100": 2.0e12, "L40S": 0.864e12}


def timed_ms(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    cuda = torch.cuda.is_available()
    times = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bandwidth(dev: torch.device) -> dict:
    """The card's HBM bandwidth (vendor table) and the rate of a large device-to-device copy, bytes/s."""
    n = (1 << 28) if dev.type == "cuda" else (1 << 22)
    a = torch.empty(n, dtype=torch.uint8, device=dev)
    b = torch.empty_like(a)
    ms = timed_ms(lambda: b.copy_(a), 2, 5)
    measured = 2 * n / (ms / 1e3)  # a copy reads and writes n bytes
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    spec = next((v for k, v in HBM_BYTES_PER_S.items() if k in name), None)
    return {"spec_bytes_per_s": spec, "copy_bytes_per_s": measured, "used": spec or measured,
            "source": "vendor figure for " + name if spec else "measured copy rate (card not in the table)"}


BOUND_FORMULA = ("bytes = s*(11*b*d*l + 6*b*n*l) + 4*(3*d*n + 3*d); forward reads u, delta, z (b,d,l) and B, C (b,n,l), "
                 "writes out (b,d,l); backward reads u, delta, z, dout and B, C, writes du, ddelta, dz and dB, dC; "
                 "A, D, delta_bias and their fp32 grads; s = 2 bytes (bf16). bound_ms = bytes / HBM bandwidth")


def scan_bytes(b: int, d: int, n: int, l: int, s: int = 2) -> int:
    return s * (11 * b * d * l + 6 * b * n * l) + 4 * (3 * d * n + 3 * d)


def scan_bench(shapes, impls, dev, bw: float, warmup: int, repeats: int) -> list[dict]:
    from biomamba.ops import selective_scan
    from tests.ops.scan_inputs import make_scan_inputs

    rows = []
    for b, d, n, l in shapes:
        inp = make_scan_inputs(b, d, n, l, "var", torch.float32)
        inp = {k: (v.detach().to(dev, torch.bfloat16 if k in ("u", "delta", "B", "C", "z") else torch.float32)
                   .requires_grad_() if v is not None else None) for k, v in inp.items()}
        bound = scan_bytes(b, d, n, l) / bw * 1e3
        row = {"shape": [b, d, n, l], "bound_ms": bound}
        for impl in impls:
            def run():
                out = selective_scan(**inp, delta_softplus=True, impl=impl)
                out.backward(torch.ones_like(out))
            t = time.perf_counter()
            try:
                row[impl + "_ms"] = timed_ms(run, warmup, repeats)
            except Exception as exc:  # one failing implementation must not lose the others
                row[impl + "_error"] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"    scan {b}x{d}x{n}x{l} {impl}: {row.get(impl + '_ms', 'error')} ms "
                  f"({time.perf_counter() - t:.0f} s incl. compile)", flush=True)
        rows.append(row)
    return rows


def kernel_checks(dev, big: bool) -> dict:
    """Triton kernels vs their references on this device (fp32), and fwd+bwd times at a 1.4b layer's shapes."""
    from biomamba.ops import IMPLS, add_rms_norm, causal_conv1d, selective_scan

    def rel(a, b):
        return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-30)).item()

    g = torch.Generator().manual_seed(0)
    out = {}
    # Check shapes: odd sizes over several tiles on a GPU; small under --smoke, where Triton's interpreter
    # runs every kernel instance in Python (the same code paths, minutes instead of hours).
    t, ch, nt = (300, 97, 130) if big else (40, 37, 50)
    x = torch.randn(3, t, 2 * ch, generator=g)[..., :ch].transpose(1, 2).to(dev).requires_grad_()
    w, bias = torch.randn(ch, 4, generator=g).to(dev).requires_grad_(), torch.randn(ch, generator=g).to(dev).requires_grad_()
    res = []
    for impl in ("torch", "triton"):
        y = causal_conv1d(x, w, bias, "silu", impl=impl)
        res.append([y, *torch.autograd.grad(y.square().sum(), (x, w, bias))])
    out["conv_max_rel_err"] = max(rel(a, b) for a, b in zip(res[1], res[0]))
    h, r = (torch.randn(t, nt, generator=g).to(dev).requires_grad_() for _ in range(2))
    nw = (1 + 0.1 * torch.randn(nt, generator=g)).to(dev).requires_grad_()
    res = []
    for impl in ("torch", "triton"):
        y, ro = add_rms_norm(h, r, nw, 1e-5, True, impl=impl)
        res.append([y, ro, *torch.autograd.grad((y * ro).sum(), (h, r, nw))])
    out["norm_max_rel_err"] = max(rel(a, b) for a, b in zip(res[1], res[0]))
    if "triton" in IMPLS:
        from tests.ops.scan_inputs import make_scan_inputs

        inp = {k: (v.to(dev).requires_grad_() if v is not None else None)
               for k, v in make_scan_inputs(*((2, 70, 16, 257) if big else (1, 12, 4, 37)), "var", torch.float32).items()}
        res = []
        for impl in ("reference", "triton"):
            y = selective_scan(**inp, delta_softplus=True, impl=impl)
            res.append([y, *torch.autograd.grad(y.square().sum(), [v for v in inp.values() if v is not None])])
        out["scan_max_rel_err"] = max(rel(a, b) for a, b in zip(res[1], res[0]))
    # fwd+bwd at one 1.4b layer (4 x 2048 tokens, d_model 2048, d_inner 4096); tiny under --smoke
    b, l, dm = (4, 2048, 2048) if big else (1, 16, 32)
    xz = torch.randn(b, l, 4 * dm, device=dev, dtype=torch.bfloat16)
    xc = xz[..., : 2 * dm].transpose(1, 2).requires_grad_()  # the mixer's channel-last view
    cw, cb = torch.randn(2 * dm, 4, device=dev).requires_grad_(), torch.randn(2 * dm, device=dev).requires_grad_()
    hs = torch.randn(b, l, dm, device=dev, dtype=torch.bfloat16).requires_grad_()
    rs = torch.randn(b, l, dm, device=dev).requires_grad_()
    nwt = torch.ones(dm, device=dev).requires_grad_()
    def conv(impl):
        with torch.autocast(dev.type, dtype=torch.bfloat16):  # as in training: bf16 x, fp32 weight
            y = causal_conv1d(xc, cw, cb, "silu", impl=impl)
        y.sum().backward()

    def norm(impl):
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            y, ro = add_rms_norm(hs, rs, nwt, 1e-5, True, impl=impl)
        (y.float().sum() + ro.sum()).backward()

    for impl in ("torch", "triton"):
        warm, reps = (3, 10) if big else (1, 1)
        out[f"conv_fwdbwd_ms_{impl}"] = timed_ms(lambda: conv(impl), warm, reps)
        out[f"norm_fwdbwd_ms_{impl}"] = timed_ms(lambda: norm(impl), warm, reps)
    return out


def model_cfg(scale: str, smoke: bool, **kw):
    from biomamba.config import load_config
    from biomamba.model import MambaConfig

    name = "tiny" if smoke else scale
    over = [f"{k}={v}" for k, v in kw.items()] + (["d_model=64", "n_layer=1"] if smoke else [])
    return load_config(MambaConfig, ROOT / "configs" / "model" / f"{name}.yaml", over)


def engine_run(cfg, micro_batch: int, seq: int, steps: int, precision: str) -> dict:
    """launcher/train.py, DeepSpeed ZeRO-1, 1 process; best tokens/s after the first two (compiling) steps."""
    from tests.train.launch import free_port

    over = [f"model.{k}={json.dumps(v)}" for k, v in cfg.to_dict().items()]
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", f"--master_port={free_port()}",
               str(ROOT / "launcher" / "train.py"), "--config", str(ROOT / "configs/pretrain/tiny_synthetic.yaml"),
               *over, f"run_dir={d}/run", f"max_steps={steps}", "log_every=1", f"data.seq_len={seq}",
               f"data.micro_batch_size={micro_batch}", f"parallel.precision={precision}", "parallel.zero_stage=1",
               "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=1000000", "schedule.warmup_steps=1",
               "wandb.enabled=false"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            oom = "out of memory" in (proc.stderr + proc.stdout).lower()
            return {"micro_batch": micro_batch, "error": (proc.stderr or proc.stdout)[-2500:], "oom": oom, "wall_s": wall}
        recs = [json.loads(x) for x in (Path(d) / "run" / "metrics.jsonl").read_text().splitlines()]
        recs = [r for r in recs if "loss" in r]
        best = max((r for r in recs if r["step"] > min(2, len(recs) - 1)), key=lambda r: r["tokens_per_s_per_device"])
        return {"micro_batch": micro_batch, "seq": seq, "wall_s": wall,
                "tokens_per_s_per_gpu": best["tokens_per_s_per_device"], "tflops_per_gpu": best["tflops_per_device"],
                "mfu": best.get("mfu"), "mem_alloc_gb": best.get("mem_alloc_gb", best.get("mem_rss_gb")),
                "losses": [round(r["loss"], 4) for r in recs], "scan_impl": cfg.scan_impl, "kernel_impl": cfg.kernel_impl}


def profile_step(cfg, micro_batch: int, seq: int, dev, top: int = 15) -> dict:
    """One plain-PyTorch training step (bf16 autocast, fused AdamW) under torch.profiler: top kernels by
    self device time, and the step's peak memory against the planner's ``predicted_peak_bytes``."""
    from torch.profiler import ProfilerActivity, profile

    from biomamba.model import MambaLM
    from biomamba.plan.memory import predicted_peak_bytes
    from biomamba.train.config import OptimConfig
    from biomamba.train.optim import build_optimizer

    model = MambaLM(cfg, device=dev).init_weights(0)
    opt = build_optimizer(model, OptimConfig(), dev.type)
    ids = torch.randint(0, cfg.vocab_size, (micro_batch, seq + 1), device=dev)
    cuda = dev.type == "cuda"

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten())
        del logits
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()

    step()  # compiles the Triton kernels and creates Adam's states
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    step()
    step_s = time.perf_counter() - t
    peak = torch.cuda.max_memory_allocated() if cuda else None
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        step()
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, key, 0) > 0]
    total = sum(getattr(e, key) for e in events) or 1.0
    rows = [{"name": e.key[:90], "calls": e.count, "ms": getattr(e, key) / 1e3, "share": getattr(e, key) / total}
            for e in sorted(events, key=lambda e: -getattr(e, key))[:top]]
    pred = predicted_peak_bytes(cfg, micro_batch, seq, precision="bf16", backend="cuda")
    del model, opt
    return {"micro_batch": micro_batch, "seq": seq, "step_s": step_s, "top_kernels": rows, "profiled_total_ms": total / 1e3,
            "peak_gb": peak / 2**30 if peak else None, "planner_predicted_gb": pred / 2**30,
            "planner_error": (pred - peak) / peak if peak else None}


@torch.no_grad()
def decode_bench(cfg_torch, cfg_triton, dev, new_tokens: int) -> dict:
    """generate() tokens/s, batch 1, with the PyTorch decode step vs the fused Triton step (same weights)."""
    from biomamba.model import MambaLM

    out, toks = {}, {}
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    ids = torch.randint(0, cfg_torch.vocab_size, (1, 16), generator=torch.Generator().manual_seed(0)).to(dev)
    for name, cfg in (("torch", cfg_torch), ("triton", cfg_triton)):
        model = MambaLM(cfg, device=dev).init_weights(0).to(dtype)
        model.generate(ids, max_new_tokens=4)  # warm-up / compile
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        toks[name] = model.generate(ids, max_new_tokens=new_tokens)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        out[f"tokens_per_s_{name}"] = new_tokens / (time.perf_counter() - t)
        del model
    out["same_tokens"] = bool(torch.equal(toks["torch"], toks["triton"]))
    out["speedup"] = out["tokens_per_s_triton"] / out["tokens_per_s_torch"]
    return out
