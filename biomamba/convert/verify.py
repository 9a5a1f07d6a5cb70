"""``--verify``: run fixed batches through our model and through the exported directory, compare logits.

The reference is our :class:`MambaLM` holding the weights *as exported* (cast to the export
dtype, then computed in fp32), so the check measures the conversion — key names, layouts,
config — not the precision given up by a bf16 export (reported separately as
``dtype_rounding``). The exported side is loaded the way its users load it: an HF
directory with ``transformers.AutoModelForCausalLM.from_pretrained`` in this process
(offline), a mamba_ssm or BioMamba directory with our reader (mamba_ssm's own model needs
its CUDA kernels).

Pass criterion: ``max |Δlogit| <= tol * max(1, max |logit|)``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from biomamba.model import MambaLM

from .consolidate import ConversionError
from .source import LoadedModel, read_source
from .weights import cast


class VerificationError(ConversionError):
    """The exported model's logits differ from ours beyond the tolerance."""


def fixed_batches(vocab_size: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(0, vocab_size, (2, 48), generator=g), torch.randint(0, vocab_size, (1, 7), generator=g)]


def _ours(model: LoadedModel, sd: dict[str, torch.Tensor]) -> MambaLM:
    """Our model computing in fp32 on ``sd``'s tensors (no copy for fp32: built on meta, then assigned)."""
    m = MambaLM(model.config, device="meta")
    m.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True, assign=True)
    m.tie_weights()
    return m.eval()


def _exported_logits(out: Path, target: str):
    if target == "hf":
        from transformers import AutoModelForCausalLM

        hf = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32, local_files_only=True).eval()
        return lambda ids: hf(ids).logits
    back = read_source(out)
    m = _ours(back, back.state_dict)
    return lambda ids: m(ids)


@torch.no_grad()
def verify(model: LoadedModel, out: Path, target: str, dtype: str | None = None, tol: float = 1e-4) -> dict:
    """Compare; returns the report, raises :class:`VerificationError` above the tolerance."""
    exported_sd = cast(model.state_dict, dtype)
    ref = _ours(model, exported_sd)
    theirs = _exported_logits(out, target)
    original = _ours(model, model.state_dict) if dtype not in (None, "auto", "fp32") else None
    worst, biggest, rounding = 0.0, 0.0, 0.0
    for ids in fixed_batches(model.config.vocab_size):
        a = ref(ids)
        b = theirs(ids).float()
        if a.shape != b.shape:
            raise VerificationError(f"{out}: logits shape {tuple(b.shape)}, ours {tuple(a.shape)}")
        worst = max(worst, (a - b).abs().max().item())
        biggest = max(biggest, a.abs().max().item())
        if original is not None:
            rounding = max(rounding, (original(ids) - a).abs().max().item())
    limit = tol * max(1.0, biggest)
    report = {"target": target, "max_abs_logit_diff": worst, "max_abs_logit": biggest, "allowed_diff": limit,
              "dtype_rounding": rounding, "passed": worst <= limit}
    if not report["passed"]:
        raise VerificationError(
            f"verification failed for the {target} export: max |logit diff| {worst:.3g} > {limit:.3g} "
            f"(--verify-tol {tol:g} × max(1, max |logit| {biggest:.3g})); the export does not reproduce the model")
    return report
