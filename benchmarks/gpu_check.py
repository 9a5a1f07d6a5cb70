"""One prepared GPU session (issue 12): Triton kernels, scan speed vs the HBM bound, engine MFU, a profile.

    python benchmarks/gpu_check.py --out DIR            # on the GPU machine: <= 8 min, prints progress
    python benchmarks/gpu_check.py --out DIR --smoke    # CPU, TRITON_INTERPRET=1, tiny shapes (tests run this)

Phases (each timed, its failure recorded without losing the others, DIR/gpu_results.json rewritten after each):
1. env: card, versions, scan implementations importable, HBM bandwidth (vendor figure + measured copy).
2. kernels: every Triton kernel vs its PyTorch reference on the device (fp32, values and grads); fwd+bwd
   time of causal conv1d and add+RMSNorm, triton vs torch, at one 1.4b layer (4 x 2048 tokens).
3. scan: fwd+bwd, bf16, (4,1536,16,2048) and (4,4096,16,2048) for triton, fast (and cuda if importable),
   against the bandwidth bound (formula printed).
4. engine: launcher/train.py, ZeRO-1, bf16, seq 2048, 1 GPU, the planner's largest micro-batch for the path
   (halved once on OOM): 1.4b and 130m with the Triton scan and kernels; planner vs measured peak.
5. profile: one 1.4b training step under torch.profiler (top kernels), peak vs ``predicted_peak_bytes``;
   then 130m with the PyTorch scan and kernels, the baseline of the speedup (same steps and warm-up).
6. decode: generate() tokens/s with the PyTorch vs the fused Triton decode step (130m, batch 1).
Ends with the BENCH lines and writes the gpu_check section of RESULTS.md (--smoke: DIR/RESULTS.md), and a
copy of the updated RESULTS.md to DIR (the folder that comes back from a lent machine).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:6.1f}s] {msg}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--smoke", action="store_true", help="CPU under TRITON_INTERPRET=1, tiny shapes and model")
    p.add_argument("--budget-s", type=float, default=None,
                   help="skip phases that would end after this many seconds (default 450; --smoke: no limit)")
    p.add_argument("--results", default=None, help="RESULTS.md to update (default: the repo's; --smoke: DIR/RESULTS.md)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.smoke:  # before anything imports triton
        os.environ["TRITON_INTERPRET"] = "1"
    import torch

    from benchmarks import gpu_parts as gp
    from biomamba.io import atomic_write_json
    from biomamba.ops import IMPLS, cuda_kernels_available

    smoke = args.smoke
    budget = args.budget_s or (float("inf") if smoke else 450.0)
    if not smoke and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device; run with --smoke for the CPU check of this script")
    dev = torch.device("cpu" if smoke else "cuda")
    triton_scan = "triton" in IMPLS
    scan_impls = [i for i in ("triton", "fast") if i in IMPLS] + (["cuda"] if cuda_kernels_available() else [])
    res: dict = {"smoke": smoke, "torch": torch.__version__, "cuda": torch.version.cuda, "scan_impls": scan_impls,
                 "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu (smoke)"}
    seq = 16 if smoke else 2048
    fast_cfg = dict(scan_impl="fast", kernel_impl="torch")
    tri_cfg = dict(scan_impl="triton" if triton_scan else "fast", kernel_impl="triton")

    def phase(name: str, est_s: float, fn):
        if time.perf_counter() - T0 + est_s > budget:
            res[name] = {"skipped": f"time budget ({budget:.0f} s) would be exceeded"}
            log(f"{name}: SKIPPED (budget)")
            return
        log(f"{name}: start")
        t = time.perf_counter()
        try:
            res[name] = fn()
        except Exception as exc:  # keep going: one failure must not lose the other numbers
            res[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        res[name + "_seconds"] = time.perf_counter() - t
        gc.collect()
        if dev.type == "cuda":  # give this process's cached blocks back before an engine subprocess starts
            torch.cuda.empty_cache()
        log(f"{name}: done in {res[name + '_seconds']:.0f} s: {json.dumps(res[name])[:600]}")
        atomic_write_json(out / "gpu_results.json", res)

    phase("env", 5, lambda: {"bandwidth": gp.bandwidth(dev)})
    bw = res["env"]["bandwidth"]["used"] if "bandwidth" in res.get("env", {}) else float("nan")
    print("HBM bound formula: " + gp.BOUND_FORMULA + f"; bandwidth {bw:.3g} B/s", flush=True)
    phase("kernels", 40, lambda: gp.kernel_checks(dev, big=not smoke))
    shapes = [(1, 8, 4, 33), (1, 12, 4, 40)] if smoke else [(4, 1536, 16, 2048), (4, 4096, 16, 2048)]
    phase("scan", 60, lambda: gp.scan_bench(shapes, scan_impls, dev, bw, 1 if smoke else 3, 2 if smoke else 10))

    def engine(scale: str, kw: dict, steps: int):
        """The planner's largest micro-batch for this path (backend cuda: a fused scan; cuda-torch: our
        PyTorch scan, which saves more), halved once if it still runs out of memory."""
        from biomamba.plan.memory import max_micro_batch, plan_memory

        cfg = gp.model_cfg(scale, smoke, **kw)
        gib = 64.0 if smoke else torch.cuda.get_device_properties(0).total_memory / 2**30
        plan = dict(gpus=1, zero=1, seq=seq, precision="bf16",
                    backend="cuda" if kw["scan_impl"] == "triton" else "cuda-torch")
        mb = 2 if smoke else max(1, max_micro_batch(cfg, gpu_mem_gb=gib, **plan))
        for _ in range(2):
            r = gp.engine_run(cfg, mb, seq, steps, "fp32" if smoke else "bf16")
            if not r.get("oom") or mb == 1:
                break
            log(f"  micro-batch {mb} ran out of memory; retrying with {mb // 2}")
            mb //= 2
        pm = plan_memory(cfg, gpu_mem_gb=gib, micro_batch=mb, **plan)
        r["planner_predicted_gb"] = (pm["total"] - pm["reserve"]) / 2**30  # the allocator's counter: no reserve
        return r

    # Most important first: a phase that would end past the budget is skipped and reported as such.
    phase("engine_1.4b", 150, lambda: engine("1.4b", tri_cfg, 2 if smoke else 6))
    # 130m: Triton path vs the PyTorch path (the speedup's baseline), same steps and warm-up (2 steps).
    phase("engine_130m", 70, lambda: engine("130m", tri_cfg, 2 if smoke else 4))
    mb14 = res.get("engine_1.4b", {}).get("micro_batch") or 2

    def profile():
        cfg = gp.model_cfg("1.4b", smoke, **tri_cfg)
        try:
            return gp.profile_step(cfg, mb14, seq, dev)
        except torch.OutOfMemoryError:  # fp32 weights + AdamW in-process: a little more than the engine's bf16
            torch.cuda.empty_cache()
            return gp.profile_step(cfg, max(1, mb14 // 2), seq, dev)

    phase("profile_1.4b", 60, profile)
    phase("engine_130m_fast", 120, lambda: engine("130m", fast_cfg, 2 if smoke else 4))
    phase("decode_130m", 30, lambda: gp.decode_bench(gp.model_cfg("130m", smoke, **fast_cfg),
                                                      gp.model_cfg("130m", smoke, kernel_impl="triton"),
                                                      dev, 8 if smoke else 128))
    from benchmarks.common import RESULTS
    from biomamba.io import atomic_write_text

    results = Path(args.results) if args.results else (out / "RESULTS.md" if smoke else RESULTS)
    report(res, bw, smoke, results)
    atomic_write_json(out / "gpu_results.json", res)
    if results.resolve() != (out / "RESULTS.md").resolve():  # DIR is what comes back from a lent machine
        atomic_write_text(out / "RESULTS.md", results.read_text())


def _get(d: dict, *keys, default=float("nan")):
    for k in keys:
        if not isinstance(d, dict) or d.get(k) is None:
            return default
        d = d[k]
    return d


def report(res: dict, bw: float, smoke: bool, results_path: Path | None) -> None:
    from benchmarks import gpu_parts as gp
    from benchmarks.common import bench_line, record_results

    scans = res.get("scan") if isinstance(res.get("scan"), list) else []
    ratios = [r["triton_ms"] / r["bound_ms"] for r in scans if "triton_ms" in r]
    ratio = max(ratios) if ratios else float("nan")
    mfu = _get(res, "engine_1.4b", "mfu")
    speedup = (_get(res, "engine_130m", "tokens_per_s_per_gpu") / _get(res, "engine_130m_fast", "tokens_per_s_per_gpu")
               if _get(res, "engine_130m", "scan_impl", default="") == "triton" else float("nan"))
    lines = [bench_line("scan_triton_over_bandwidth_bound", ratio, "<=", 4),
             bench_line("gpu_mfu_1.4b", mfu, ">=", 0.30),
             bench_line("gpu_speedup_triton_vs_fast_130m", speedup, ">=", 20)]
    f = lambda v, spec="{:.3g}": "not measured" if v is None or (isinstance(v, float) and math.isnan(v)) else spec.format(v)  # noqa: E731
    body = [f"{'**SMOKE RUN (CPU, Triton interpreter, tiny shapes): numbers prove only that the script runs.**' if smoke else ''}",
            f"Card: {res['device']}, torch {res['torch']} (CUDA {res['cuda']}); scan implementations here: "
            f"{', '.join(res['scan_impls'])}. `python benchmarks/gpu_check.py --out DIR`; raw numbers in DIR/gpu_results.json.",
            "", f"HBM bound: {gp.BOUND_FORMULA}; bandwidth used {f(bw)} B/s "
            f"({_get(res, 'env', 'bandwidth', 'source', default='n/a')}; measured copy {f(_get(res, 'env', 'bandwidth', 'copy_bytes_per_s'))} B/s).",
            "", "| scan fwd+bwd, bf16, (b, d, n, l) | bound ms | " + " | ".join(f"{i} ms" for i in res["scan_impls"]) + " | triton / bound |",
            "|---|---|" + "---|" * len(res["scan_impls"]) + "---|"]
    for r in scans:
        cells = [f(r.get(f"{i}_ms")) if f"{i}_ms" in r else "error" for i in res["scan_impls"]]
        body.append(f"| {tuple(r['shape'])} | {f(r['bound_ms'])} | " + " | ".join(cells)
                    + f" | {f(r['triton_ms'] / r['bound_ms']) if 'triton_ms' in r else 'n/a'} |")
    k = res.get("kernels", {})
    body += ["", f"Kernels vs references on the device (fp32, values + grads): conv {f(k.get('conv_max_rel_err'))}, "
             f"add+RMSNorm {f(k.get('norm_max_rel_err'))}, scan {f(k.get('scan_max_rel_err'))} (max rel. err). "
             f"fwd+bwd at one 1.4b layer, 4 x 2048 tokens: causal conv1d torch {f(k.get('conv_fwdbwd_ms_torch'))} ms / "
             f"triton {f(k.get('conv_fwdbwd_ms_triton'))} ms; add+RMSNorm torch {f(k.get('norm_fwdbwd_ms_torch'))} ms / "
             f"triton {f(k.get('norm_fwdbwd_ms_triton'))} ms.", "",
             "| engine run (ZeRO-1, bf16, seq 2048, 1 GPU) | micro-batch | tokens/s/GPU | MFU | peak alloc GiB | planner GiB |",
             "|---|---|---|---|---|---|"]
    for name in ("engine_1.4b", "engine_130m", "engine_130m_fast"):
        e = res.get(name, {})
        what = f"{name[7:].replace('_fast', '')} scan={e.get('scan_impl', '?')} kernels={e.get('kernel_impl', '?')}"
        if "error" in e or "skipped" in e:
            body.append(f"| {what} | {e.get('micro_batch', '')} | {('error: ' + e.get('error', '')[-120:].replace('|', '/').replace(chr(10), ' ')) if 'error' in e else e['skipped']} | | | |")
        else:
            body.append(f"| {what} | {e['micro_batch']} | {f(e['tokens_per_s_per_gpu'], '{:,.0f}')} | {f(e.get('mfu'), '{:.1%}')} "
                        f"| {f(e.get('mem_alloc_gb'))} | {f(e.get('planner_predicted_gb'))} |")
    pr = res.get("profile_1.4b", {})
    body += ["", f"Profile of one 1.4b step (plain PyTorch, bf16 autocast, micro-batch {pr.get('micro_batch')}): "
             f"{f(pr.get('step_s'))} s; peak {f(pr.get('peak_gb'))} GiB vs planner {f(pr.get('planner_predicted_gb'))} GiB.",
             "", "| kernel | calls | self ms | share |", "|---|---|---|---|"]
    body += [f"| `{r['name']}` | {r['calls']} | {r['ms']:.2f} | {r['share']:.1%} |" for r in pr.get("top_kernels", [])]
    dc = res.get("decode_130m", {})
    body += ["", f"Decode (generate, 130m, batch 1): torch step {f(dc.get('tokens_per_s_torch'))} tokens/s, fused Triton step "
             f"{f(dc.get('tokens_per_s_triton'))} tokens/s (x{f(dc.get('speedup'))}, same tokens: {dc.get('same_tokens')}).",
             "", "```", *lines, "```"]
    errors = {k: v["error"][:300] for k, v in res.items() if isinstance(v, dict) and "error" in v}
    if errors:
        body += ["", "Errors: " + "; ".join(f"{k}: {v}" for k, v in errors.items()).replace("\n", " ")]
    record_results("gpu_check", "\n".join(body), path=results_path)


if __name__ == "__main__":
    main()
