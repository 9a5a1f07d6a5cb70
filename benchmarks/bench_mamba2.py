"""Mamba-2 130m forward+backward on CPU: BioMamba's MambaLM (chunked PyTorch SSD) vs transformers' Mamba2ForCausalLM.

Baseline in the same run: ``transformers.Mamba2ForCausalLM`` (its pure-PyTorch path, what it runs on
CPU), same config, same weights, same inputs, fp32, batch 1; both sides get the same warm-up and
the same number of timed repeats, in their own subprocess (so peak RSS is their own), with the
same thread count and glibc settings. The median repeat is reported.
Then the peak RSS of one fwd+bwd step of ours at 130m/2048, with the training options a memory-bound
CPU run sets (``parallel.activation_checkpointing=true parallel.loss_chunk_tokens=256``: per-block
recomputation, and the head's logits and loss a chunk of positions at a time, see
:mod:`biomamba.ops.xent`), and for comparison without them. The glibc settings are the training
pipeline's (``CPU_MALLOC_ENV``), which keep freed memory for speed and so count its fragmentation.

    python benchmarks/bench_mamba2.py            # 130m/512 speed + 130m/2048 RSS
    python benchmarks/bench_mamba2.py --quick    # tiny sizes, a smoke check
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
LOSS_CHUNK = 256


def _gemm_floor(model, seq: int, iters: int, warmup: int) -> list[float]:
    """Seconds per repeat of the fwd+bwd matrix products of one batch-1 step (see the module docstring):
    one product per ``nn.Linear`` of ``model`` (in_proj and out_proj per layer, the tied head), on its weight."""
    import torch

    g = torch.Generator().manual_seed(0)
    ws = [m.weight.detach() for m in model.modules() if isinstance(m, torch.nn.Linear)]  # (out, in)
    xs = [torch.randn(seq, w.shape[1], generator=g) for w in ws]
    dys = [torch.randn(seq, w.shape[0], generator=g) for w in ws]
    times = []
    for r in range(warmup + iters):
        t = time.perf_counter()
        for w, x in zip(ws, xs):
            torch.mm(x, w.t())  # forward
        for w, x, dy in zip(reversed(ws), reversed(xs), reversed(dys)):
            torch.mm(dy, w)  # input gradient
            torch.mm(dy.t(), x)  # weight gradient
        if r >= warmup:
            times.append(time.perf_counter() - t)
    return times


def _worker(args) -> dict:
    import torch
    import torch.nn.functional as F

    from benchmarks.common import peak_rss_gb
    from biomamba.config import load_config
    from biomamba.convert.hf import hf_config_from_ours, hf_state_dict_from_ours
    from biomamba.model import MambaConfig, MambaLM

    torch.manual_seed(0)
    cfg = load_config(MambaConfig, ROOT / "configs" / "model" / f"{args.scale}.yaml")
    ours = MambaLM(cfg).init_weights(0)
    if args.impl == "gemm":
        sec = statistics.median(_gemm_floor(ours, args.seq, args.iters, args.warmup))
        return {"seconds": sec, "tokens_per_s": args.seq / sec, "peak_rss_gb": peak_rss_gb(), "iters": args.iters}
    if args.impl == "hf":
        import transformers

        model = transformers.Mamba2ForCausalLM(hf_config_from_ours(cfg))
        model.load_state_dict(hf_state_dict_from_ours(ours.state_dict()))
        del ours
    else:
        model = ours
    model.train()
    if args.memory_options:  # what parallel.activation_checkpointing / parallel.loss_chunk_tokens set in training
        model.backbone.gradient_checkpointing = True
    x = torch.randint(0, cfg.vocab_size, (1, args.seq + 1), generator=torch.Generator().manual_seed(1))
    times = []
    for i in range(args.warmup + args.iters):
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        if args.memory_options:
            nll, mask = model(x[:, :-1], labels=x[:, 1:], loss_chunk_tokens=LOSS_CHUNK)
            loss = nll.sum() / mask.sum()
        else:
            out = model(x[:, :-1])
            logits = out.logits if hasattr(out, "logits") else out
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1))
            del logits, out
        loss.backward()
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
    sec = statistics.median(times)
    return {"seconds": sec, "tokens_per_s": args.seq / sec, "peak_rss_gb": peak_rss_gb(), "iters": len(times)}


def run(impl: str, scale: str, seq: int, iters: int, warmup: int, memory_options: bool = False) -> dict:
    from biomamba.pipeline import CPU_MALLOC_ENV

    cmd = [sys.executable, __file__, "--worker", "--impl", impl, "--scale", scale, "--seq", str(seq),
           "--iters", str(iters), "--warmup", str(warmup)] + (["--memory-options"] if memory_options else [])
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **CPU_MALLOC_ENV}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} {scale}/{seq} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(impl=impl + (" + memory options" if memory_options else ""), scale=scale, seq=seq)
    print(f"  {scale:12s} L={seq:<5d} {res['impl']:5s} {res['tokens_per_s']:9.1f} tok/s  {res['seconds']:8.2f} s/iter  "
          f"peak RSS {res['peak_rss_gb']:.2f} GB", flush=True)
    return res


def main() -> None:
    from benchmarks.common import bench_line, record_results

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    load0 = os.getloadavg()[0]
    scale, seq, long_seq = ("mamba2-130m", 64, 256) if args.quick else ("mamba2-130m", 512, 2048)
    print(f"forward+backward, batch 1, fp32, {os.environ.get('OMP_NUM_THREADS', 'default')} threads:")
    ours = run("ours", scale, seq, args.iters, args.warmup)
    hf = run("hf", scale, seq, args.iters, args.warmup)
    floor = run("gemm", scale, seq, args.iters, args.warmup)
    reachable = hf["seconds"] / floor["seconds"]
    print(f"  largest reachable speed-up over hf here (hf / gemm-only): {reachable:.2f}x", flush=True)
    long_plain = run("ours", scale, long_seq, 1, 0)
    long_ = run("ours", scale, long_seq, 1, 0, memory_options=True)
    lines = [
        bench_line(f"mamba2_fwdbwd_vs_hf_130m_{seq}", ours["tokens_per_s"] / hf["tokens_per_s"], ">=", 2),
        bench_line(f"peak_rss_gb_mamba2_130m_{long_seq}", long_["peak_rss_gb"], "<=", 4),
    ]
    if not args.quick:
        table = ["| implementation | seq | tokens/s (median) | s/iter | peak RSS (GB) |", "|---|---|---|---|---|"]
        for r in (ours, hf, floor, long_plain, long_):
            table.append(f"| {r['impl']} | {r['seq']} | {r['tokens_per_s']:.1f} | {r['seconds']:.2f} "
                         f"| {r['peak_rss_gb']:.2f} |")
        body = ("Mamba-2 130m, CPU, batch 1, fp32, fwd+bwd; baseline transformers `Mamba2ForCausalLM` (PyTorch path), "
                f"warm-up {args.warmup}, {args.iters} timed repeats each, median; glibc settings of the training "
                "pipeline (`CPU_MALLOC_ENV`). The 2048-token rows are one step each, for peak RSS; "
                "\"memory options\" = `parallel.activation_checkpointing=true parallel.loss_chunk_tokens="
                f"{LOSS_CHUNK}` (the BENCH line's row). \"gemm\" = the model's matrix products alone "
                f"(forward and both gradients, same shapes): hf / gemm = {reachable:.2f} is the largest speed-up "
                f"over hf that any fp32 implementation could reach here. Load average at the start: {load0:.1f}.\n\n"
                + "\n".join(table) + "\n\n```\n" + "\n".join(lines) + "\n```")
        record_results("bench_mamba2", body)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        wp = argparse.ArgumentParser()
        wp.add_argument("--worker", action="store_true")
        wp.add_argument("--impl")
        wp.add_argument("--scale")
        wp.add_argument("--seq", type=int)
        wp.add_argument("--iters", type=int)
        wp.add_argument("--warmup", type=int)
        wp.add_argument("--memory-options", action="store_true")
        print(json.dumps(_worker(wp.parse_args())))
    else:
        main()
