"""Run in a subprocess with TRITON_INTERPRET=1: the Triton scan vs both references over the issue's grid.

References: our ``selective_scan_reference`` and, when mamba-ssm is installed, mamba_ssm's
``selective_scan_ref`` (imported without its CUDA extension, see _mamba_ssm_ref.py; that import
stubs modules, hence a separate process). Prints one JSON line: a row per compared tensor.
"""

import json
import os
import sys
from pathlib import Path

import torch

T, F = True, False
CASES = [
    # batch, dim, dstate, length, B/C layout, chunk, D, z, delta_bias, softplus, return_last_state
    (1, 8, 4, 1, "var", 64, T, T, T, T, T),  # l = 1
    (2, 6, 3, 37, "var", 16, T, T, T, T, F),  # prime l over 3 chunks; dstate not a power of two
    (1, 3, 4, 257, "var", 64, T, T, T, T, T),  # prime l over 5 chunks
    (1, 37, 2, 40, "var", 16, T, T, T, T, F),  # d = 37 over small tiles (SMALL_TILES): partial channel blocks
    (2, 8, 4, 19, "group", 8, T, F, T, T, T),  # grouped B/C (2 groups)
    (1, 5, 2, 64, "var", 16, F, T, T, T, F),  # without D
    (1, 5, 2, 50, "var", 16, T, F, T, T, F),  # without z
    (1, 5, 2, 50, "var", 16, T, T, F, T, F),  # without delta_bias
    (1, 5, 2, 50, "var", 16, T, T, T, F, T),  # without softplus
    (2, 5, 2, 33, "var", 16, F, F, F, F, T),  # none of them
]
# The interpreter scans element by element, so its cost is the padded tile volume: case 3 shrinks the
# tiles instead of growing d, to cover 10 forward channel blocks and 5 backward d-programs (both partial).
SMALL_TILES = {3: {"TILE_FWD": 128, "TILE_BWD": 64, "D_PER_BWD_PROGRAM": 8}}
LOW = (torch.bfloat16, torch.float16)
LOW_CASES = [0, 1, 4]  # bf16 and fp16 inputs on these cases


def run(fn, inp, softplus, last, seed=1, **kw):
    """Output (and last state), then every input gradient for a fixed random cotangent."""
    for v in inp.values():
        if v is not None:
            v.grad = None
    res = fn(**inp, delta_softplus=softplus, return_last_state=last, **kw)
    out, state = res if last else (res, None)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out.dtype)
    (out.float() * g.float()).sum().backward()
    names = [k for k, v in inp.items() if v is not None]
    tensors = [out.detach()] + ([state.detach()] if last else []) + [inp[k].grad.detach().clone() for k in names]
    return tensors, ["out"] + (["last_state"] if last else []) + names


def low_precision(inp, dtype):
    """u, delta, B, C, z in ``dtype``; A, D, delta_bias stay fp32 (as the mixer passes them)."""
    return {k: (v.detach().to(dtype).requires_grad_() if v is not None and k not in ("A", "D", "delta_bias") else v)
            for k, v in inp.items()}


def main():
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    assert os.environ.get("TRITON_INTERPRET") == "1", "run with TRITON_INTERPRET=1"
    from biomamba.ops import scan_triton, selective_scan_reference, selective_scan_triton
    from tests.ops.scan_inputs import make_scan_inputs

    refs = {"biomamba": selective_scan_reference}
    if "--mamba-ssm" in sys.argv:
        from tests.ops._mamba_ssm_ref import load_selective_scan_ref

        refs["mamba_ssm"] = load_selective_scan_ref()
    rows = []
    defaults = {k: getattr(scan_triton, k) for k in ("TILE_FWD", "TILE_BWD", "D_PER_BWD_PROGRAM")}
    for i, case in enumerate(CASES):
        for k, v in {**defaults, **SMALL_TILES.get(i, {})}.items():
            setattr(scan_triton, k, v)
        b, d, n, l, bc, chunk, D, z, bias, sp, last = case
        base = make_scan_inputs(b, d, n, l, bc, torch.float32, z=z, D=D, delta_bias=bias, positive_delta=not sp)
        for dtype in (torch.float32,) + (LOW if i in LOW_CASES else ()):
            inp = base if dtype == torch.float32 else low_precision(base, dtype)
            ours, names = run(selective_scan_triton, inp, sp, last, chunk_size=chunk)
            for ref_name, ref in refs.items():
                theirs, _ = run(ref, inp, sp, last)
                for name, a, r in zip(names, ours, theirs):
                    err = ((a.float() - r.float()).abs().max() / r.float().abs().max().clamp_min(1e-30)).item()
                    rows.append({"case": i, "dtype": str(dtype)[6:], "ref": ref_name, "tensor": name,
                                 "rel_err": err, "same_dtype": a.dtype == r.dtype, "same_shape": a.shape == r.shape})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
