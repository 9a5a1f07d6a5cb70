"""The one place that imports mamba_ssm's pure-Triton Mamba-2 kernels (SSD scan and gated RMSNorm).

mamba-ssm 2.3.2.post1's package ``__init__`` imports the compiled ``selective_scan_cuda``, so a
plain ``import mamba_ssm.ops.triton.ssd_combined`` fails wherever that extension was not built
(CPU machines, wheels without CUDA), although the Triton modules themselves need no compiled code.

:func:`load` first tries the ordinary import. If that fails it loads just the Triton submodules
with bare stand-in package objects for ``mamba_ssm``, ``mamba_ssm.ops``, ``mamba_ssm.ops.triton``
and ``mamba_ssm.utils`` (so no package ``__init__`` runs), then restores ``sys.modules`` exactly:
transformers binds mamba_ssm's kernels whenever ``import mamba_ssm`` succeeds, so a stand-in left
behind would change how HF models run in this process. The loaded modules keep working because
they bound every name they import when they were executed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from pathlib import Path

log = logging.getLogger(__name__)

_MODULES = ("mamba_ssm.ops.triton.ssd_combined", "mamba_ssm.ops.triton.layernorm_gated")
_cache: dict = {}


def _import_isolated() -> tuple:
    spec = importlib.util.find_spec("mamba_ssm")
    if spec is None or spec.origin is None:
        raise ImportError("mamba_ssm is not installed")
    root = Path(spec.origin).parent
    saved = {k: v for k, v in sys.modules.items() if k == "mamba_ssm" or k.startswith("mamba_ssm.")}
    try:
        for name, path in [("mamba_ssm", root), ("mamba_ssm.ops", root / "ops"),
                           ("mamba_ssm.ops.triton", root / "ops" / "triton"), ("mamba_ssm.utils", root / "utils")]:
            if name not in saved:
                pkg = types.ModuleType(name)
                pkg.__path__ = [str(path)]
                sys.modules[name] = pkg
        return tuple(importlib.import_module(m) for m in _MODULES)
    finally:
        for k in [k for k in sys.modules if k == "mamba_ssm" or k.startswith("mamba_ssm.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def load():
    """``(mamba_chunk_scan_combined, rmsnorm_fn)`` from mamba_ssm, or None where they cannot be imported.

    The outcome (which import worked, or why none did) is logged once.
    """
    if "result" in _cache:
        return _cache["result"]
    result = None
    try:
        importlib.import_module("mamba_ssm")  # the package __init__ (needs the compiled extension)
        mods = tuple(importlib.import_module(m) for m in _MODULES)
        how = "mamba_ssm package import"
    except Exception as exc:  # ImportError, or the compiled extension failing to load
        first = exc
        try:
            mods = _import_isolated()
            how = f"isolated import of the Triton modules (package import failed: {type(first).__name__}: {first})"
        except Exception as exc2:
            mods, how = None, f"unavailable ({type(exc2).__name__}: {exc2})"
    if mods is not None:
        result = (mods[0].mamba_chunk_scan_combined, mods[1].rmsnorm_fn)
    log.info("mamba_ssm Triton SSD kernels: %s", how)
    _cache["result"], _cache["how"] = result, how
    return result


def how_loaded() -> str:
    load()
    return _cache["how"]
