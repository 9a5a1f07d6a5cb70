"""Model forward+backward and generation speed on CPU: our fast scan vs our reference scan vs HF.

Baselines, same config, same weights, same inputs, in one run:
  (i)   BioMamba ``MambaLM`` with the fast chunked scan (``scan_impl=fast``)
  (ii)  BioMamba ``MambaLM`` with the sequential reference scan (``scan_impl=reference``)
  (iii) ``transformers.MambaForCausalLM`` as shipped (its pure-PyTorch slow path on CPU)

Each measurement runs in its own subprocess so its peak RSS is its own.  Every
implementation gets the same warm-up (1 untimed iteration) and the same number of
timed repeats (``--repeats``), and reports the median, for fwd+bwd and generate alike.
Targets: (i) >= 5x (iii) tokens/s at tiny/512 and 130m/256; (i) peak RSS <= 4 GB at 130m/1024.

    python benchmarks/bench_model.py            # full run (~10 min on 2 cores)
    python benchmarks/bench_model.py --quick    # smaller sizes, for a smoke check
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _worker(args) -> dict:
    """Runs inside the subprocess: build the model, time ``iters`` fwd+bwd (or generate) steps."""
    import torch
    import torch.nn.functional as F

    from benchmarks.common import peak_rss_gb
    from biomamba.config import load_config
    from biomamba.convert.hf import hf_config_from_ours, hf_state_dict_from_ours
    from biomamba.model import MambaConfig, MambaLM

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config(MambaConfig, ROOT / "configs" / "model" / f"{args.scale}.yaml", [f"scan_impl={args.scan}"])
    ours = MambaLM(cfg).init_weights(0)
    if args.impl == "hf":
        import transformers

        model = transformers.MambaForCausalLM(hf_config_from_ours(cfg))
        model.load_state_dict(hf_state_dict_from_ours(ours.state_dict()))
        del ours
    else:
        model = ours
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, cfg.vocab_size, (args.batch, args.seq + 1), generator=g)

    def logits_of(inp):
        out = model(inp)
        return out.logits if hasattr(out, "logits") else out

    times = []
    if args.mode == "train":
        model.train()
        for i in range(args.warmup + args.iters):
            model.zero_grad(set_to_none=True)
            t = time.perf_counter()
            logits = logits_of(x[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1))
            del logits
            loss.backward()
            if i >= args.warmup:
                times.append(time.perf_counter() - t)
        tokens = args.batch * args.seq
    else:
        model.eval()
        prompt = x[:, : args.seq]
        for i in range(args.warmup + args.iters):
            t = time.perf_counter()
            with torch.no_grad():
                if args.impl == "hf":
                    out = model.generate(prompt, max_new_tokens=args.new_tokens, do_sample=False, min_new_tokens=args.new_tokens)
                else:
                    out = model.generate(prompt, max_new_tokens=args.new_tokens)
            if i >= args.warmup:
                times.append(time.perf_counter() - t)
        assert out.shape[1] == args.seq + args.new_tokens
        tokens = args.batch * args.new_tokens
    sec = statistics.median(times)
    return {"seconds": sec, "tokens_per_s": tokens / sec, "peak_rss_gb": peak_rss_gb(), "iters": len(times)}


WARMUP = 1  # untimed iterations before the timed ones, the same for every implementation


THREADS = [0]  # torch threads in every worker (0: torch's default), set once from --threads


def run(impl, scan, scale, seq, *, iters, mode="train", warmup=WARMUP, batch=1, new_tokens=64) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--impl", impl, "--scan", scan, "--scale", scale, "--seq", str(seq),
           "--mode", mode, "--iters", str(iters), "--warmup", str(warmup), "--batch", str(batch),
           "--new-tokens", str(new_tokens), "--threads", str(THREADS[0])]
    t = time.perf_counter()
    # Same glibc settings for every implementation (see bench_train.py): keep freed memory instead of
    # page-faulting fresh buffers on every large allocation.
    from biomamba.pipeline import CPU_MALLOC_ENV

    env = {**os.environ, "PYTHONWARNINGS": "ignore", **CPU_MALLOC_ENV}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl}/{scan} {scale}/{seq} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(impl=impl, scan=scan, scale=scale, seq=seq, mode=mode, wall=time.perf_counter() - t)
    label = "ours-" + scan if impl == "ours" else "hf"
    print(f"  {mode:8s} {scale:5s} L={seq:<5d} {label:15s} {res['tokens_per_s']:10.1f} tok/s  "
          f"{res['seconds']:8.2f} s/iter  peak RSS {res['peak_rss_gb']:.2f} GB", flush=True)
    return res


def main() -> None:
    from benchmarks.common import bench_line, record_results

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=3, help="timed iterations per measurement, every implementation")
    p.add_argument("--big", choices=["130m", "tiny"], default="130m",
                   help="scale of the second comparison, the memory run and generate (tiny: for a loaded machine)")
    p.add_argument("--threads", type=int, default=0, help="torch threads, the same for every implementation "
                   "(default: torch's own; 1 keeps a shared machine's load from stalling OpenMP barriers)")
    args = p.parse_args()
    q, n = args.quick, args.repeats
    THREADS[0] = args.threads
    rows, lines = [], []
    print(f"forward+backward, batch 1 ({WARMUP} warm-up + median of {n} timed iterations each):")
    tiny_seq = 128 if q else 512
    t_f = run("ours", "fast", "tiny", tiny_seq, iters=n)
    t_r = run("ours", "reference", "tiny", tiny_seq, iters=n)
    t_h = run("hf", "fast", "tiny", tiny_seq, iters=n)
    rows += [t_f, t_r, t_h]
    big = "tiny" if q else args.big
    b_f = run("ours", "fast", big, 64 if q else 256, iters=n)
    b_r = run("ours", "reference", big, 64 if q else 256, iters=n)
    b_h = run("hf", "fast", big, 64 if q else 256, iters=n)
    rows += [b_f, b_r, b_h]
    long_ = run("ours", "fast", big, 256 if q else 1024, iters=n)
    rows.append(long_)
    print("generation, batch 1, prompt 32, 64 new tokens (greedy):")
    g_f = run("ours", "fast", big, 32, mode="generate", iters=n, new_tokens=64)
    g_h = run("hf", "fast", big, 32, mode="generate", iters=n, new_tokens=64)
    rows += [g_f, g_h]

    lines.append(bench_line(f"fwdbwd_speedup_vs_hf_tiny_{tiny_seq}", t_f["tokens_per_s"] / t_h["tokens_per_s"], ">=", 5))
    lines.append(bench_line(f"fwdbwd_speedup_vs_hf_{big}_{b_f['seq']}", b_f["tokens_per_s"] / b_h["tokens_per_s"], ">=", 5))
    lines.append(bench_line(f"peak_rss_gb_{big}_{long_['seq']}", long_["peak_rss_gb"], "<=", 4))
    lines.append(bench_line(f"generate_speedup_vs_hf_{big}", g_f["tokens_per_s"] / g_h["tokens_per_s"], ">=", 1))
    print(f"fast vs reference scan (fwd+bwd): tiny {t_f['tokens_per_s'] / t_r['tokens_per_s']:.1f}x, "
          f"{big} {b_f['tokens_per_s'] / b_r['tokens_per_s']:.1f}x")

    table = ["| mode | scale | seq | implementation | tokens/s | s/iter (median) | peak RSS (GB) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        label = "BioMamba, fast scan" if r["impl"] == "ours" and r["scan"] == "fast" else (
            "BioMamba, reference scan" if r["impl"] == "ours" else "HF MambaForCausalLM (slow path)")
        table.append(f"| {r['mode']} | {r['scale']} | {r['seq']} | {label} | {r['tokens_per_s']:.1f} | "
                     f"{r['seconds']:.2f} | {r['peak_rss_gb']:.2f} |")
    if not q:
        setup = (f"Batch 1, fp32, CPU, all runs with `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1e11`; every "
                 f"implementation {WARMUP} warm-up + {n} timed iterations, median reported, "
                 f"{args.threads or 'default'} torch threads. "
                 f"`python benchmarks/bench_model.py --repeats {n} --big {big} --threads {args.threads}`.")
        record_results("bench_model", setup + "\n\n" + "\n".join(table)
                       + "\n\n```\n" + "\n".join(lines) + "\n```")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--worker", action="store_true")
        for a in ("--impl", "--scan", "--scale", "--mode"):
            p.add_argument(a)
        for a in ("--seq", "--iters", "--warmup", "--batch", "--new-tokens", "--threads"):
            p.add_argument(a, type=int)
        print(json.dumps(_worker(p.parse_args())))
    else:
        main()
