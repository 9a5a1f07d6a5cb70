"""README.md model card for an exported model, written from the checkpoint's own ``biomamba_meta.json``.

Everything stated comes from recorded data (config, train state, layout, versions, the
data manifests when still readable) — nothing is typed in by hand, so the card cannot
drift from the weights it describes. The text is deterministic (no timestamps).
"""

from __future__ import annotations

import json
from pathlib import Path

from biomamba.model import param_count
from biomamba.rundir import RunDir

from .source import LoadedModel


def _manifest_totals(path: str) -> dict | None:
    from biomamba.data.format import ShardFormatError, read_manifest

    try:
        return read_manifest(path)["totals"]
    except (ShardFormatError, OSError, KeyError):  # the data may live on another cluster; the card says so
        return None


def _data_rows(cfg: dict) -> list[str]:
    data = cfg.get("data", {})
    if cfg.get("synthetic_data") and not data.get("datasets"):
        return ["Synthetic tokens (engine test run; no corpus)."]
    rows = ["| dataset | weight | documents | tokens |", "|---|---|---|---|"]
    for ds in data.get("datasets", []):
        totals = _manifest_totals(ds.get("path", ""))
        docs = f"{totals['documents']:,}" if totals else "n/a"
        toks = f"{totals['tokens']:,}" if totals else "n/a (manifest not readable here)"
        rows.append(f"| `{ds.get('name') or ds.get('path')}` | {ds.get('weight', 1.0)} | {docs} | {toks} |")
    if data.get("val_path"):
        rows.append(f"\nValidation split: `{data['val_path']}`.")
    return rows


def _last_metrics(run_dir: Path | None) -> dict:
    out: dict = {}
    p = RunDir(run_dir).metrics if run_dir else None
    if not p or not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        for k in ("loss", "val_loss", "val_ppl", "val_bpb"):
            if k in rec:
                out[k] = (rec["step"], rec[k])
    return out


def render(model: LoadedModel, *, dtype: str, tokenizer=None, target: str = "hf") -> str:
    cfg, meta = model.config, model.meta or {}
    tcfg = meta.get("config", {})
    state = meta.get("train_state", {})
    layout = meta.get("layout", {})
    lines = [
        "---",
        "library_name: transformers" if target == "hf" else "library_name: mamba_ssm",
        "pipeline_tag: text-generation",
        "tags: [mamba, biomedical, biomamba]",
        "---",
        "",
        f"# BioMamba — {'Mamba-2' if cfg.is_mamba2 else 'Mamba-1'} language model ({param_count(cfg) / 1e6:.1f}M parameters)",
        "",
        "Exported by `biomamba-convert` from " + (f"training checkpoint `{meta.get('tag')}`" if meta else f"`{model.path}`") + ".",
        "",
        "## Architecture",
        "",
        f"| d_model | layers | d_state | d_conv | expand | {'heads × headdim, ngroups' if cfg.is_mamba2 else 'dt_rank'} "
        "| vocabulary (padded) | tied embeddings | weights dtype |",
        "|---|---|---|---|---|---|---|---|---|",
        (f"| {cfg.d_model} | {cfg.n_layer} | {cfg.d_state} | {cfg.d_conv} | {cfg.expand} | "
         f"{f'{cfg.nheads} × {cfg.headdim}, {cfg.ngroups}' if cfg.is_mamba2 else cfg.dt_rank} | "
         f"{cfg.vocab_size} ({cfg.padded_vocab_size}) | {cfg.tie_embeddings} | {dtype} |"),
        "",
    ]
    if tokenizer is not None:
        trained = meta.get("tokenizer_hash")
        note = f" (the run recorded `{trained}`)" if trained not in (None, tokenizer.content_hash) else ""
        lines += [f"Tokenizer: {tokenizer.kind}, {tokenizer.vocab_size} tokens, sha256 `{tokenizer.content_hash}`{note}.", ""]
    if meta:
        run_dir = Path(tcfg["run_dir"]) if tcfg.get("run_dir") else None
        opt, sch, par, data = tcfg.get("optim", {}), tcfg.get("schedule", {}), tcfg.get("parallel", {}), tcfg.get("data", {})
        gbs = data.get("micro_batch_size", 0) * par.get("gradient_accumulation_steps", 1) * layout.get("dp", 1)
        lines += [
            "## Training",
            "",
            f"* optimizer steps: {state.get('step', 'n/a'):,}" if isinstance(state.get("step"), int) else "* optimizer steps: n/a",
            f"* tokens seen: {state.get('tokens_seen', 0):,}",
            f"* skipped (non-finite) steps: {state.get('skipped_steps', 0)}",
            f"* sequence length {data.get('seq_len')}, global batch {gbs} sequences",
            (f"* AdamW lr {opt.get('lr')} (min ratio {opt.get('min_lr_ratio')}), betas {opt.get('betas')}, "
             f"weight decay {opt.get('weight_decay')}, grad clip {opt.get('grad_clip')}; "
             f"schedule {sch.get('kind')} with {sch.get('warmup_steps')} warmup steps"),
            (f"* layout: TP={layout.get('tp')}, DP={layout.get('dp')}, ZeRO-{layout.get('zero_stage')}, "
             f"precision {par.get('precision')}"),
            f"* init: {tcfg.get('init', {}).get('from_pretrained') or 'from scratch'}",
        ]
        for k, (step, v) in _last_metrics(run_dir).items():
            lines.append(f"* last {k}: {v:.4f} (step {step})")
        lines += ["", "### Data", "", *_data_rows(tcfg), "", "### Versions", "",
                  ", ".join(f"{k} {v}" for k, v in sorted(meta.get("versions", {}).items()) if v), ""]
        lines += ["The full training config and state are in `biomamba_meta.json`.", ""]
    if target == "hf":
        lines += ["## Use", "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  "tok = AutoTokenizer.from_pretrained(PATH)", "model = AutoModelForCausalLM.from_pretrained(PATH)",
                  'ids = tok("Metformin is", return_tensors="pt").input_ids',
                  "print(tok.decode(model.generate(ids, max_new_tokens=20)[0]))", "```", ""]
    else:
        lines += ["## Use", "", "```python", "from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel",
                  'model = MambaLMHeadModel.from_pretrained(PATH, device="cuda")', "```", ""]
    return "\n".join(lines)
