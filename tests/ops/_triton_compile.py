"""Run in a subprocess WITHOUT TRITON_INTERPRET: compile every scan kernel for sm_90 on a machine without a GPU.

The interpreter accepts programs the GPU compiler rejects (and the reverse), so this compiles the exact
variants the launcher would launch for a 130m-sized bf16 layer (d_inner=1536, d_state=16, l=2048, D, z,
delta_bias, softplus) through Triton's NVIDIA backend down to a cubin (ptxas ships in the triton wheel).
Also the forward for a one-token prefill. Prints one JSON line: kernel, mode, num_warps and the cubin's resource usage (registers, spill stack).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

assert os.environ.get("TRITON_INTERPRET", "0") != "1", "run without TRITON_INTERPRET"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from biomamba.ops import scan_triton  # noqa: E402
from biomamba.ops import scan_triton_kernels as k  # noqa: E402

ACTIVATIONS = {"u", "delta", "B", "C", "z", "out", "dout", "du", "ddelta", "dz"}  # bf16 in training


def compile_kernel(fn, meta, target):
    meta = dict(meta)
    warps = meta.pop("num_warps")
    names = fn.arg_names
    sig = {n: "constexpr" if n in meta else ("*bf16" if n in ACTIVATIONS else "*fp32") for n in names}
    for n in ("L", "DM", "DG", "G", "N", "NC"):
        if n in sig:
            sig[n] = "i32"
    src = ASTSource(fn, sig, constexprs={(names.index(n),): v for n, v in meta.items()})
    return triton.compile(src, target=target, options={"num_warps": warps})


def resource_usage(cubin: bytes) -> dict:
    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        out = subprocess.run([str(tool), "--dump-resource-usage", f.name], capture_output=True, text=True).stdout
    return {key: int(v) for key, v in re.findall(r"\b(REG|STACK|LOCAL):(\d+)", out)}


def main():
    target = GPUTarget("cuda", 90, 32)
    DG, BN, chunk = 1536, 16, 128
    flags = dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True)
    variants = [(k._chunk_kernel, {**flags, **scan_triton.fwd_meta(DG, BN, chunk), "MODE": m}) for m in (0, 1)]
    variants += [(k._bwd_kernel, {**flags, **scan_triton.bwd_meta(DG, BN, chunk), "MODE": m}) for m in (0, 1)]
    variants += [(k._carry_kernel, {**scan_triton.carry_meta(DG, BN), "REVERSE": r}) for r in (False, True)]
    # A one-token prefill for generation (l=1: CHUNK=1, wide channel blocks), with return_last_state.
    variants += [(k._chunk_kernel, {**flags, **scan_triton.fwd_meta(DG, BN, 1), "MODE": m}) for m in (0, 1)]
    rows = []
    for fn, meta in variants:
        c = compile_kernel(fn, meta, target)
        rows.append({"kernel": fn.__name__, "mode": meta.get("MODE", meta.get("REVERSE")), "num_warps": meta["num_warps"],
                     **resource_usage(c.asm["cubin"])})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
