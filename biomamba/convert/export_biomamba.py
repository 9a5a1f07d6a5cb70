"""Write BioMamba's own model directory: the initial checkpoint of a continued-pretraining run.

Tensor parallelism on import — a design decision. The directory holds ONE consolidated
``model.safetensors`` (our parameter names), not per-TP-rank shards, and
``init.from_pretrained`` loads it on every rank before :func:`biomamba.parallel.parallelize`
slices it with the same :mod:`biomamba.parallel.tp_layout` table that merges training
checkpoints. Why:

* one file serves every TP × DP × ZeRO layout; per-rank files would freeze TP at
  conversion time and still not be a DeepSpeed checkpoint (ZeRO partitions and
  optimizer state depend on DP and the stage, and a new run starts with fresh ones);
* the engine already builds the full model on every rank before sharding (a fresh run
  initializes it there), so per-rank files would not lower peak memory;
* the split is the one code path training itself uses, tested by the engine's
  layout-equivalence tests, instead of a second implementation in the converter.

``--tp N`` therefore checks that the model can be split N ways (d_inner and the padded
vocabulary divisible by N) and fails early otherwise; the training config's
``model.pad_vocab_size_multiple`` sets the padding at load time.

``biomamba_model.json`` keeps our full :class:`MambaConfig` (including fields HF and
mamba_ssm have no place for) and the HF config keys of an HF source, so HF → ours → HF
is lossless.
"""

from __future__ import annotations

import json
from pathlib import Path

from biomamba.parallel.tp_layout import split_problems
from biomamba.rundir import META

from .consolidate import ConversionError
from .source import BIOMAMBA_FORMAT, BIOMAMBA_MODEL, LoadedModel
from .tokenizer_export import export_tokenizer
from .weights import cast, dtype_name, save_safetensors, without_tied_head


def check_tp(model: LoadedModel, tp: int) -> None:
    cfg = model.config
    problems = []
    problems += split_problems(cfg, tp)
    if cfg.padded_vocab_size % tp:
        problems.append(f"the padded vocabulary {cfg.padded_vocab_size} is not divisible by {tp} — set "
                        f"model.pad_vocab_size_multiple to a multiple of {tp} in the training config (the "
                        "vocabulary is re-padded when init.from_pretrained loads it)")
    if problems:
        raise ConversionError(f"{model.describe()} cannot be split over TP={tp}: " + "; ".join(problems))


def write_biomamba(model: LoadedModel, out: Path, *, dtype: str | None = None, tokenizer: str | None = None,
                   max_shard_size: str | int = "5GB") -> None:
    sd = cast(model.state_dict, dtype)
    tok, _ = export_tokenizer(model, out, tokenizer)
    head = {
        "format": BIOMAMBA_FORMAT,
        "config": model.config.to_dict(),
        "dtype": dtype_name(sd),
        "source": {"kind": model.kind, "path": str(model.path)},
        "tokenizer_hash": model.tokenizer_hash or (tok.content_hash if tok is not None else None),
        "hf_extra": model.hf_extra,
    }
    save_safetensors(without_tied_head(sd, model.config.tie_embeddings), out, max_shard_size)
    if model.meta:
        (out / META).write_text(json.dumps(model.meta, indent=2, sort_keys=True) + "\n")
    (out / BIOMAMBA_MODEL).write_text(json.dumps(head, indent=2, sort_keys=True) + "\n")
