"""``biomamba-convert`` / ``python launcher/convert.py``: one command for every conversion (see docs/convert.md).

    biomamba-convert SOURCE --to hf|mamba_ssm|biomamba --out DIR [--tag TAG] [--dtype auto|fp32|bf16]
                     [--tokenizer PATH] [--tp N] [--max-shard-size 5GB] [--verify] [--verify-tol 1e-4]
                     [--overwrite]

SOURCE is auto-detected: a training run directory, its ``checkpoints/`` folder or one tag
folder; an HF ``MambaForCausalLM`` directory; a mamba_ssm directory; a BioMamba export.
Exit codes: 0 done, 2 the conversion is impossible (message says why; nothing written),
3 ``--verify`` found the export wrong (nothing written).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .consolidate import ConversionError
from .export import TARGETS
from .verify import VerificationError


SAFETY = """safety: DeepSpeed asks for a full unpickle of its shard files; this tool reads them with
torch.load(weights_only=True) plus three DeepSpeed record types instead (biomamba/safe_load.py), and only
from a checkpoint tag that has BioMamba's COMPLETE marker and biomamba_meta.json. Model directories are
read with safetensors or weights_only=True."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="biomamba-convert", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=SAFETY)
    p.add_argument("source", help="training run/checkpoints/tag directory, or an HF, mamba_ssm or BioMamba model directory")
    p.add_argument("--to", required=True, choices=TARGETS, help="output format")
    p.add_argument("--out", required=True, help="output directory (written atomically)")
    p.add_argument("--tag", default="latest", help="training checkpoints: the tag to convert (default: latest)")
    p.add_argument("--dtype", default="auto", choices=("auto", "fp32", "bf16"),
                   help="weights dtype; auto keeps the source's (training checkpoints hold fp32 masters)")
    p.add_argument("--tokenizer", help="tokenizer to ship (SentencePiece .model, tokenizer.json or a directory); "
                                       "default: the one the run was trained with, or the source directory's")
    p.add_argument("--tp", type=int, default=None, help="fail unless the model can be split over this many TP ranks")
    p.add_argument("--max-shard-size", default=None,
                   help="safetensors shard size for hf/biomamba (default 5GB), e.g. 2GB or 500MB")
    p.add_argument("--verify", action="store_true", help="compare logits of ours and the export on fixed batches")
    p.add_argument("--verify-tol", type=float, default=1e-4, help="relative tolerance of --verify (default 1e-4)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    return p.parse_args(argv)


def convert(args: argparse.Namespace) -> dict:
    from .export import export
    from .export_biomamba import check_tp
    from .source import read_source

    out = Path(args.out)
    if out.exists() and not args.overwrite:  # before the (possibly long) consolidation
        raise ConversionError(f"{out} already exists; choose another --out or pass --overwrite")
    if args.tp is not None and args.tp < 1:
        raise ConversionError(f"--tp must be >= 1, got {args.tp}")
    if args.to == "mamba_ssm" and args.max_shard_size:
        raise ConversionError("--max-shard-size does not apply to mamba_ssm: its loader reads one pytorch_model.bin")
    t0 = time.perf_counter()
    model = read_source(args.source, args.tag)
    if args.tp is not None:
        check_tp(model, args.tp)
    report = {"source": model.describe(), "target": args.to, "out": str(out.absolute()),
              "parameters": sum(v.numel() for k, v in model.state_dict.items()
                                if not (k == "lm_head.weight" and model.config.tie_embeddings))}
    verified = export(model, out, args.to, dtype=args.dtype, tokenizer=args.tokenizer,
                      max_shard_size=args.max_shard_size, overwrite=args.overwrite,
                      verify_tol=args.verify_tol if args.verify else None)
    if args.verify:
        report["verify"] = verified
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report = convert(args)
    except VerificationError as exc:
        print(f"biomamba-convert: {exc}", file=sys.stderr)
        return 3
    except ConversionError as exc:
        print(f"biomamba-convert: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
