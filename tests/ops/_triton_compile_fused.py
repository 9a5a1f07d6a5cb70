"""Run WITHOUT TRITON_INTERPRET: compile the norm / conv / decode kernels for sm_90 on a machine without a GPU.

The interpreter accepts programs the GPU compiler rejects, so the tests also compile each kernel, with the
dtypes of bf16 training (DeepSpeed bf16: bf16 activations and weights, fp32 residual stream) and the
constants its launcher passes at 1.4b (d_model 2048, d_inner 4096, d_state 16), through Triton's NVIDIA
backend to a cubin (ptxas ships in the triton wheel). Prints one JSON line per kernel: registers and
spill stack from cuobjdump.
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
import triton.language as tl  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from biomamba.ops import conv_triton, norm_triton, step_triton  # noqa: E402

BF16 = {"X", "R", "W", "Y", "DY", "DX", "Bias", "DT", "Bm", "Cm", "Z"}  # pointers that hold bf16 here
F32 = {"RO", "RSTD", "DRO", "DR", "DW", "DB", "S", "A", "Dv", "DTB"}


def build(fn, consts: dict, num_warps: int, floats=("eps",)):
    sig = {}
    for name in fn.arg_names:
        if name in consts:
            sig[name] = "constexpr"
        elif name in BF16 or name in F32:
            sig[name] = "*bf16" if name in BF16 else "*fp32"
        else:
            sig[name] = "fp32" if name in floats else "i32"
    src = ASTSource(fn, sig, constexprs={(fn.arg_names.index(k),): v for k, v in consts.items()})
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": num_warps})


def usage(cubin: bytes) -> dict:
    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        out = subprocess.run([str(tool), "--dump-resource-usage", f.name], capture_output=True, text=True).stdout
    return {k: int(v) for k, v in re.findall(r"\b(REG|STACK|LOCAL):(\d+)", out)}


def main():
    bd, bl, steps, cw = conv_triton._blocks(type("cuda", (), {"is_cuda": True})())
    n = 2048
    variants = [
        ("norm_fwd", norm_triton._fwd, dict(HAS_R=True, SUM_DT=tl.float32, W_DT=tl.bfloat16, BLOCK=n), norm_triton._warps(n)),
        ("norm_bwd", norm_triton._bwd, dict(HAS_DRO=True, HAS_R=True, W_DT=tl.bfloat16, BLOCK=n), norm_triton._warps(n)),
        ("conv_fwd", conv_triton._fwd, dict(WIDTH=4, HAS_BIAS=True, SILU=True, BD=bd, BL=bl), cw),
        ("conv_bwd", conv_triton._bwd, dict(WIDTH=4, WP2=4, HAS_BIAS=True, SILU=True, BD=bd, BL=bl), cw),
        ("conv_update", conv_triton._update, dict(WIDTH=4, WP2=4, HAS_BIAS=True, SILU=True, BD=64), 4),
        ("ssm_step", step_triton._step, dict(HAS_D=True, HAS_Z=True, HAS_DTB=True, SOFTPLUS=True, BD=32, BN=16), 4),
    ]
    rows = []
    for name, fn, consts, warps in variants:
        rows.append({"kernel": name, "num_warps": warps, **usage(build(fn, consts, warps).asm["cubin"])})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
