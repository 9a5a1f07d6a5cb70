"""Mamba-2 SSD: the chunked PyTorch implementation equals the sequential reference, values and every gradient."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from biomamba.ops import gated_rmsnorm, resolve_ssd_impl, ssd_scan
from biomamba.ops.ssd_chunked import ssd_chunked
from biomamba.ops.ssd_reference import ssd_reference

CASES = [
    # batch, length, nheads, headdim, ngroups, dstate, chunk, initial_states, extra
    (2, 1, 4, 3, 1, 5, 4, False, {}),  # length 1
    (1, 1, 2, 2, 2, 3, 256, True, {}),  # length 1 with a state carried in
    (2, 37, 4, 3, 1, 5, 8, False, {}),  # prime length, chunk does not divide it, several chunks
    (2, 23, 6, 4, 3, 8, 5, True, {}),  # ngroups > 1, initial states, 5 chunks (last partial)
    (1, 64, 4, 8, 2, 16, 16, True, {}),  # whole chunks
    (2, 19, 4, 4, 4, 6, 256, True, {"z": True}),  # one chunk longer than the sequence; z gating
    (2, 29, 4, 2, 1, 4, 7, False, {"D_has_hdim": True, "dt_limit": (0.01, 2.0)}),
]


def _inputs(case, dtype, seed=0):
    b, L, H, P, G, N, _, init, extra = case
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    inp = {
        "x": r(b, L, H, P), "dt": r(b, L, H), "A": -torch.rand(H, generator=g, dtype=torch.float64) * 4 - 0.1,
        "B": r(b, L, G, N), "C": r(b, L, G, N), "D": r(H, P) if extra.get("D_has_hdim") else r(H),
        "dt_bias": r(H) * 0.5,
    }
    if extra.get("z"):
        inp["z"] = r(b, L, H, P)
    if init:
        inp["initial_states"] = r(b, H, P, N)
    return {k: v.to(dtype).requires_grad_(True) for k, v in inp.items()}


def _outputs_and_grads(fn, inp, case, **kw):
    inp = {k: v.detach().clone().requires_grad_(True) for k, v in inp.items()}
    x, dt, A, B, C = (inp.pop(k) for k in ("x", "dt", "A", "B", "C"))
    y, last = fn(x, dt, A, B, C, case[6], **inp, dt_softplus=True, return_final_states=True,
                 dt_limit=case[8].get("dt_limit", (0.0, float("inf"))), **kw)
    g = torch.Generator().manual_seed(1)
    w_y = torch.randn(y.shape, generator=g, dtype=y.dtype)
    w_last = torch.randn(last.shape, generator=g, dtype=last.dtype)
    loss = (y * w_y).sum() + (last * w_last).sum()
    leaves = {"x": x, "dt": dt, "A": A, "B": B, "C": C, **inp}
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return {"y": y, "final_state": last, **{f"d{k}": v for k, v in zip(leaves, grads)}}


def _compare(case, dtype, tol):
    inp = _inputs(case, dtype)
    ref = _outputs_and_grads(ssd_reference, inp, case)
    ours = _outputs_and_grads(ssd_chunked, inp, case)
    assert ref.keys() == ours.keys()
    for name in ref:
        a, b = ours[name], ref[name]
        assert a.shape == b.shape and a.dtype == b.dtype, name
        err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
        assert err < tol, f"{name}: relative error {err:.3g} >= {tol}"


@pytest.mark.parametrize("case", CASES)
def test_chunked_matches_reference_float64(case):
    _compare(case, torch.float64, 1e-10)


@pytest.mark.parametrize("case", CASES)
def test_chunked_matches_reference_float32(case):
    _compare(case, torch.float32, 1e-5)


def test_chunk_split_equals_one_pass():
    """Scanning two halves, carrying the final state in as the initial state, equals one pass."""
    case = (2, 40, 4, 3, 2, 5, 8, True, {})
    inp = {k: v.detach() for k, v in _inputs(case, torch.float64).items()}
    args = lambda sl: (inp["x"][:, sl], inp["dt"][:, sl], inp["A"], inp["B"][:, sl], inp["C"][:, sl], 8)  # noqa: E731
    kw = dict(D=inp["D"], dt_bias=inp["dt_bias"], dt_softplus=True, return_final_states=True)
    y, last = ssd_chunked(*args(slice(None)), initial_states=inp["initial_states"], **kw)
    y1, s1 = ssd_chunked(*args(slice(0, 17)), initial_states=inp["initial_states"], **kw)
    y2, s2 = ssd_chunked(*args(slice(17, None)), initial_states=s1, **kw)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s2, last, rtol=1e-12, atol=1e-12)


def test_dispatch_on_cpu():
    x = torch.zeros(1, 3, 2, 4)
    assert resolve_ssd_impl("auto", x) == "fast"
    assert resolve_ssd_impl("reference", x) == "reference"
    with pytest.raises(RuntimeError, match="scan_impl"):
        resolve_ssd_impl("cuda", x)
    with pytest.raises(ValueError, match="not one of"):
        resolve_ssd_impl("triton", x)
    case = CASES[3]
    inp = {k: v.detach() for k, v in _inputs(case, torch.float64).items()}
    args = [inp.pop(k) for k in ("x", "dt", "A", "B", "C")]
    a = ssd_scan(*args, 256, **inp, dt_softplus=True, impl="fast", torch_chunk_size=4)
    b = ssd_scan(*args, 256, **inp, dt_softplus=True, impl="reference")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("norm_before_gate", [False, True])
def test_gated_rmsnorm_matches_mamba_ssm_reference(norm_before_gate):
    """Our CPU gated norm equals mamba_ssm's ``rms_norm_ref`` (loaded without the package __init__)."""
    from biomamba.ops import mamba_ssm_triton

    mods = mamba_ssm_triton._import_isolated() if mamba_ssm_triton.load() is not None else None
    if mods is None:
        pytest.skip("mamba_ssm's Triton modules cannot be imported here")
    rms_norm_ref = mods[1].rms_norm_ref
    g = torch.Generator().manual_seed(0)
    x, z, w = torch.randn(3, 5, 12, generator=g), torch.randn(3, 5, 12, generator=g), torch.randn(12, generator=g)
    ours = gated_rmsnorm(x, w, z, 1e-5, group_size=4, norm_before_gate=norm_before_gate)
    theirs = rms_norm_ref(x, w, None, z=z, eps=1e-5, group_size=4, norm_before_gate=norm_before_gate)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


LOADER_CHECK = """
import json, sys
from biomamba.ops import mamba_ssm_triton
fns = mamba_ssm_triton.load()
print(json.dumps({"loaded": fns is not None, "how": mamba_ssm_triton.how_loaded(),
                  "names": [f.__name__ for f in fns] if fns else [],
                  "left": sorted(k for k in sys.modules if k == "mamba_ssm")}))
"""


def test_triton_loader_leaves_no_mamba_ssm_package_behind():
    """In a fresh process (no compiled selective_scan_cuda here): the Triton SSD modules load in
    isolation, and no stand-in ``mamba_ssm`` package stays in sys.modules for transformers to find."""
    pytest.importorskip("triton")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", LOADER_CHECK], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    try:
        import mamba_ssm  # noqa: F401

        package_imports = True
    except Exception:
        package_imports = False
    if package_imports:
        assert res["how"] == "mamba_ssm package import"
    else:
        assert res["how"].startswith("isolated import"), res["how"]
        assert res["left"] == []
    assert res["names"] == ["mamba_chunk_scan_combined", "rmsnorm_fn"]


def test_dispatched_fast_path_with_recompute_has_the_reference_gradients():
    """``ssd_scan(impl="fast")`` recomputes the chunked SSD in the backward (memory); gradients unchanged."""
    case = CASES[3]
    inp = _inputs(case, torch.float64)

    def fast(x, dt, A, B, C, chunk, **kw):
        return ssd_scan(x, dt, A, B, C, chunk, impl="fast", torch_chunk_size=chunk, **kw)

    ref = _outputs_and_grads(ssd_reference, inp, case)
    ours = _outputs_and_grads(fast, inp, case)
    for name in ref:
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-10, atol=1e-10, msg=name)
