"""``python -m biomamba.plan`` / ``biomamba-plan``: will this configuration fit, and how fast will it run?"""

from __future__ import annotations

import argparse
import json
import sys

from biomamba.config import ConfigError
from biomamba.model.config import MambaConfig

from .activations import BACKENDS
from .inventory import check_tp, valid_tp_degrees
from .memory import DEFAULT_RESERVE_GB, GIB, max_micro_batch, plan_memory
from .scales import resolve_model, scales_table
from .states import REDUCE_BUCKET_SIZE
from .throughput import peak_tflops, throughput

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="biomamba-plan", description=__doc__,
                                epilog="Formulas and assumptions: docs/planner.md")
    p.add_argument("--model", help="scale name (130m, 2.8b, ...) or path to a model YAML (required)")
    p.add_argument("--gpus", type=int, required=True, help="total GPUs of the job")
    p.add_argument("--gpu-mem-gb", type=float, default=80.0, help="memory per GPU in GiB (default 80)")
    p.add_argument("--zero", type=int, choices=[0, 1, 2, 3], help="one ZeRO stage (default: all four)")
    p.add_argument("--tp", type=int, help="one tensor-parallel degree (default: every valid one up to --max-tp)")
    p.add_argument("--max-tp", type=int, default=8, help="largest TP listed when --tp is not given (one node)")
    p.add_argument("--seq", type=int, default=2048, help="sequence length (default 2048)")
    p.add_argument("--micro-batch", type=int, help="micro-batch for the memory columns and step time "
                   "(default: 1 for memory, the largest that fits for step time)")
    p.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps (global batch)")
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    p.add_argument("--backend", choices=BACKENDS, default="cuda",
                   help="cuda: mamba_ssm + causal_conv1d kernels; cuda-torch: GPU without them; cpu")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--mfu", type=float, help="assumed model-FLOPs utilization (default 0.4)")
    rate.add_argument("--measured-tokens-per-s", type=float,
                      help="whole-job tokens/s measured at this configuration (metrics.jsonl tokens_per_s)")
    p.add_argument("--gpu", default="h100",
                   help="device for the peak TFLOP/s table (default h100, the SXM part; h100-pcie, h100-nvl, a100, ...)")
    p.add_argument("--peak-tflops", type=float, help="override the device's dense bf16 peak TFLOP/s")
    p.add_argument("--reserve-gb", type=float, default=DEFAULT_RESERVE_GB,
                   help=f"GiB set aside for CUDA context, workspaces, fragmentation (default {DEFAULT_RESERVE_GB})")
    p.add_argument("--reduce-bucket-size", type=int, default=REDUCE_BUCKET_SIZE,
                   help="parallel.reduce_bucket_size of the run (default: BioMamba's 5e7)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plain", action="store_true", help="plain-text table even when rich is installed")
    p.add_argument("--scales-table", action="store_true",
                   help="instead: the markdown table of every shipped scale (TP=1, ZeRO-1 and 3) for docs/README")
    return p


def _tp_degrees(cfg: MambaConfig, args) -> list[int]:
    if args.tp is not None:
        check_tp(cfg, args.tp)
        if args.gpus % args.tp:
            raise ValueError(f"--tp {args.tp} does not divide --gpus {args.gpus}")
        return [args.tp]
    return [t for t in valid_tp_degrees(cfg, args.max_tp) if args.gpus % t == 0]


def plan_rows(cfg: MambaConfig, args) -> tuple[dict, list[dict]]:
    tflops = args.peak_tflops or peak_tflops(args.gpu)
    if args.measured_tokens_per_s is not None:
        rate = {"measured_tokens_per_s": args.measured_tokens_per_s}
    else:
        rate = {"mfu": args.mfu if args.mfu is not None else 0.4}
    common = {"gpus": args.gpus, "gpu_mem_gb": args.gpu_mem_gb, "seq": args.seq, "precision": args.precision,
              "backend": args.backend, "reserve_gb": args.reserve_gb, "reduce_bucket_size": args.reduce_bucket_size}
    mb_mem = args.micro_batch if args.micro_batch is not None else 1
    rows = []
    for tp in _tp_degrees(cfg, args):
        for zero in [args.zero] if args.zero is not None else [0, 1, 2, 3]:
            plain = plan_memory(cfg, zero=zero, tp=tp, micro_batch=mb_mem, **common)
            ckpt = plan_memory(cfg, zero=zero, tp=tp, micro_batch=mb_mem, activation_checkpointing=True, **common)
            max_plain = max_micro_batch(cfg, zero=zero, tp=tp, **common)
            max_ckpt = max_micro_batch(cfg, zero=zero, tp=tp, activation_checkpointing=True, **common)
            mb_run = args.micro_batch if args.micro_batch is not None else (max_plain or max_ckpt)
            tokens = mb_run * plain["dp"] * args.grad_accum * args.seq
            speed = throughput(cfg, gpus=args.gpus, global_batch_tokens=tokens, tflops=tflops, **rate)
            rows.append({**plain, "activations_ckpt": ckpt["activations"], "total_ckpt": ckpt["total"],
                         "fits_ckpt": ckpt["fits"], "max_micro_batch": max_plain,
                         "max_micro_batch_ckpt": max_ckpt, "run_micro_batch": mb_run,
                         "global_batch_sequences": mb_run * plain["dp"] * args.grad_accum,
                         "global_batch_tokens": tokens, "step_time_s": speed["step_time_s"] if tokens else None})
    speed = throughput(cfg, gpus=args.gpus, global_batch_tokens=0, tflops=tflops, **rate)
    summary = {"peak_tflops": tflops, "gpu": args.gpu, **{k: v for k, v in speed.items() if k != "step_time_s"}}
    return summary, rows


def _gib(x: int) -> str:
    return f"{x / GIB:.2f}"


COLUMNS = [  # (header, row -> text)
    ("TP", lambda r: str(r["tp"])), ("DP", lambda r: str(r["dp"])), ("ZeRO", lambda r: str(r["zero"])),
    ("params/rank", lambda r: f"{r['params_per_gpu']:,}"),
    ("weights", lambda r: _gib(r["weights"])), ("grads", lambda r: _gib(r["gradients"])),
    ("optim", lambda r: _gib(r["optimizer"])), ("DS bufs", lambda r: _gib(r["deepspeed_buffers"])),
    ("act", lambda r: _gib(r["activations"])), ("act ckpt", lambda r: _gib(r["activations_ckpt"])),
    ("total", lambda r: _gib(r["total"]) + ("" if r["fits"] else " !")),
    ("total ckpt", lambda r: _gib(r["total_ckpt"]) + ("" if r["fits_ckpt"] else " !")),
    ("max mb", lambda r: str(r["max_micro_batch"])), ("max mb ckpt", lambda r: str(r["max_micro_batch_ckpt"])),
    ("global batch", lambda r: f"{r['global_batch_sequences']}×{r['seq']}"),
    ("step s", lambda r: "-" if r["step_time_s"] is None else f"{r['step_time_s']:.2f}"),
]


def _header(name: str, cfg: MambaConfig, args, summary: dict, rows: list[dict]) -> list[str]:
    mb = args.micro_batch if args.micro_batch is not None else 1
    rate = (f"measured {summary['tokens_per_s']:,.0f} tokens/s (MFU {summary['mfu']:.3f})"
            if args.measured_tokens_per_s is not None else f"MFU {summary['mfu']:.2f}")
    params = rows[0]["params_total"] if rows else 0
    return [
        (f"BioMamba plan: {name} ({params:,} parameters; d_model {cfg.d_model}, {cfg.n_layer} layers, "
         f"vocab {cfg.padded_vocab_size})"),
        (f"{args.gpus} GPUs × {args.gpu_mem_gb:g} GiB, seq {args.seq}, {args.precision}, backend {args.backend}, "
         f"reserve {args.reserve_gb:g} GiB per GPU; memory columns in GiB per GPU at micro-batch {mb}"),
        (f"throughput: {summary['flops_per_token']:,} FLOPs/token, {rate} on {args.gpus}× {summary['gpu']} "
         f"({summary['peak_tflops']:g} TFLOP/s): {summary['tokens_per_s']:,.0f} tokens/s, "
         f"{summary['tokens_per_day'] / 1e9:,.2f} B tokens/day"),
        ("params/rank: parameters on one TP rank (ZeRO-3 stores 1/DP of them: see weights); '!' = does not fit; "
         "step s: at the micro-batch given, else the largest that fits (without checkpointing if possible)"),
    ]


def render(name: str, cfg: MambaConfig, args, summary: dict, rows: list[dict]) -> None:
    lines = _header(name, cfg, args, summary, rows)
    cells = [[fn(r) for _, fn in COLUMNS] for r in rows]
    if not args.plain:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(*[h for h, _ in COLUMNS], title=lines[0], caption="\n".join(lines[1:]))
            for row in cells:
                table.add_row(*row)
            Console(width=max(200, Console().width)).print(table)
            return
    print("\n".join(lines))
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (h, _) in enumerate(COLUMNS)]
    print("  ".join(h.rjust(w) for (h, _), w in zip(COLUMNS, widths)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if min(args.gpus, args.seq, args.grad_accum, 1 if args.micro_batch is None else args.micro_batch) < 1:
            raise ValueError("--gpus, --seq, --grad-accum and --micro-batch must be >= 1")
        if args.scales_table:
            print(scales_table(gpus=args.gpus, gpu_mem_gb=args.gpu_mem_gb, seq=args.seq,
                               mfu=args.mfu if args.mfu is not None else 0.4, gpu=args.gpu,
                               precision=args.precision, backend=args.backend, reserve_gb=args.reserve_gb,
                               reduce_bucket_size=args.reduce_bucket_size))
            return 0
        if not args.model:
            raise ValueError("--model is required (a scale name or a model YAML)")
        name, cfg = resolve_model(args.model)
        summary, rows = plan_rows(cfg, args)
    except (ValueError, ConfigError) as exc:
        parser.error(str(exc))  # exit status 2 with the message
    if not rows:
        parser.error(f"no tensor-parallel degree <= {args.max_tp} divides --gpus {args.gpus}, "
                     f"d_inner {cfg.d_inner} and the vocabulary {cfg.padded_vocab_size}")
    if args.json:
        json.dump({"model": name, "config": cfg.to_dict(), "args": vars(args), "throughput": summary,
                   "rows": rows}, sys.stdout, indent=2)
        print()
    else:
        render(name, cfg, args, summary, rows)
    return 0
