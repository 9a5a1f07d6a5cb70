"""Run in a subprocess: import mamba_ssm's ``selective_scan_ref`` without its CUDA extension.

mamba-ssm 2.3 imports the compiled ``selective_scan_cuda`` and a triton layer-norm at
the top of ``selective_scan_interface.py``; CPU installs have neither. We register
empty stand-ins under those names, and bare package objects for ``mamba_ssm`` and
``mamba_ssm.ops`` so their ``__init__`` (which pulls in triton) does not run.
This never happens in a process that runs HF's Mamba: transformers 5 binds
mamba_ssm's kernels whenever ``import mamba_ssm`` succeeds.
"""

import importlib.util
import json
import sys
import types
from pathlib import Path

import torch


def load_selective_scan_ref():
    spec = importlib.util.find_spec("mamba_ssm")
    root = Path(spec.origin).parent
    for name, path in [("mamba_ssm", root), ("mamba_ssm.ops", root / "ops"), ("mamba_ssm.ops.triton", root / "ops" / "triton")]:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    ln = types.ModuleType("mamba_ssm.ops.triton.layer_norm")
    ln._layer_norm_fwd = None
    sys.modules["mamba_ssm.ops.triton.layer_norm"] = ln
    sys.modules["selective_scan_cuda"] = types.ModuleType("selective_scan_cuda")
    from mamba_ssm.ops.selective_scan_interface import selective_scan_ref

    return selective_scan_ref


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from biomamba.ops import selective_scan_fast, selective_scan_reference
    from tests.ops.scan_inputs import make_scan_inputs, outputs_and_grads

    theirs = load_selective_scan_ref()
    results = []
    for case in [(2, 6, 4, 29, "var", True, True), (1, 8, 3, 17, "const", False, False), (2, 8, 4, 13, "group", True, True)]:
        batch, dim, dstate, length, bc, z, sp = case
        inp = make_scan_inputs(batch, dim, dstate, length, bc, torch.float32, z=z, positive_delta=not sp)
        ref, names = outputs_and_grads(theirs, inp, delta_softplus=sp)
        for label, fn, kw in [("reference", selective_scan_reference, {}), ("fast", selective_scan_fast, {"chunk_size": 8})]:
            ours, _ = outputs_and_grads(fn, inp, delta_softplus=sp, **kw)
            for name, a, b in zip(names, ours, ref):
                err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
                results.append({"case": list(case), "impl": label, "tensor": name, "rel_err": err})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
