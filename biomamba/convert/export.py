"""One entry point for writing a :class:`~.source.LoadedModel` in any target format, atomically.

Used by the CLI and usable from Python::

    from biomamba.convert.export import export
    from biomamba.convert.source import read_source
    export(read_source("runs/130m"), "exports/130m-hf", "hf", verify_tol=1e-4)
"""

from __future__ import annotations

from pathlib import Path

from .consolidate import ConversionError
from .source import LoadedModel
from .staging import staged_dir

TARGETS = ("hf", "mamba_ssm", "biomamba")


def export(model: LoadedModel, out: str | Path, to: str, *, dtype: str | None = None, tokenizer: str | None = None,
           max_shard_size: str | int | None = None, overwrite: bool = False, verify_tol: float | None = None) -> dict:
    """Write ``model`` to ``out`` as ``to``; with ``verify_tol`` compare logits before publishing.

    Returns the verification report (empty without ``verify_tol``). Nothing appears under
    ``out`` unless everything, verification included, succeeded.
    """
    from .export_biomamba import write_biomamba
    from .export_hf import write_hf
    from .export_mamba_ssm import write_mamba_ssm
    from .verify import verify

    if to not in TARGETS:
        raise ConversionError(f"unknown target {to!r}; choose one of {TARGETS}")
    if to == "mamba_ssm" and max_shard_size:
        raise ConversionError("--max-shard-size does not apply to mamba_ssm: its loader reads one pytorch_model.bin")
    shard = max_shard_size or "5GB"
    report: dict = {}
    with staged_dir(out, overwrite=overwrite) as tmp:
        if to == "hf":
            write_hf(model, tmp, dtype=dtype, tokenizer=tokenizer, max_shard_size=shard)
        elif to == "mamba_ssm":
            write_mamba_ssm(model, tmp, dtype=dtype, tokenizer=tokenizer)
        else:
            write_biomamba(model, tmp, dtype=dtype, tokenizer=tokenizer, max_shard_size=shard)
        if verify_tol is not None:
            report = verify(model, tmp, to, dtype, verify_tol)
    return report
