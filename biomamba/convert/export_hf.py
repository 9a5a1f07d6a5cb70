"""Write a Hugging Face ``MambaForCausalLM`` (``Mamba2ForCausalLM`` for Mamba-2) directory that ``AutoModelForCausalLM.from_pretrained`` opens offline.

Contents: ``config.json`` (:func:`biomamba.convert.hf.hf_config_from_ours` + token ids from the
tokenizer + HF keys carried over from an HF source), ``model.safetensors`` (or shards +
``model.safetensors.index.json`` above ``max_shard_size``; a tied head is not stored, HF
re-ties it), ``generation_config.json``, tokenizer files, ``README.md`` (model card) and
``biomamba_meta.json`` (the training record, when known).
"""

from __future__ import annotations

import json
from pathlib import Path

from biomamba.rundir import META

from . import hf as hfmap
from .model_card import render
from .source import LoadedModel
from .tokenizer_export import export_tokenizer
from .weights import cast, dtype_name, save_safetensors, without_tied_head

TOKEN_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id")


def hf_config_for(model: LoadedModel, tok=None, fresh_tokenizer: bool = False, dtype: str = "float32"):
    """The HF config object for ``model`` (token ids from a freshly exported tokenizer win over carried ones)."""
    ids = {k: model.hf_extra.get(k) for k in TOKEN_KEYS}
    if tok is not None and (fresh_tokenizer or all(v is None for v in ids.values())):
        ids = {"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "pad_token_id": tok.pad_id}
    hf = hfmap.hf_config_from_ours(model.config, **ids)
    for k, v in model.hf_extra.items():
        if k not in TOKEN_KEYS:
            setattr(hf, k, v)
    hf.architectures = ["Mamba2ForCausalLM" if model.config.is_mamba2 else "MambaForCausalLM"]
    hf.dtype = dtype
    return hf


def write_hf(model: LoadedModel, out: Path, *, dtype: str | None = None, tokenizer: str | None = None,
             max_shard_size: str | int = "5GB") -> None:
    """Write the HF directory into ``out`` (an empty, staged directory; see :mod:`.staging`)."""
    from transformers import GenerationConfig

    sd = cast(model.state_dict, dtype)
    tok, fresh = export_tokenizer(model, out, tokenizer)
    # The dtype transformers loads by default; the embedding's, should a source mix dtypes.
    hf = hf_config_for(model, tok, fresh, str(sd[hfmap.OURS_EMB].dtype).removeprefix("torch."))
    hf.save_pretrained(out)
    GenerationConfig.from_model_config(hf).save_pretrained(out)
    hf_sd = hfmap.hf_state_dict_from_ours(without_tied_head(sd, model.config.tie_embeddings))
    save_safetensors(hf_sd, out, max_shard_size)
    if model.meta:
        (out / META).write_text(json.dumps(model.meta, indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(render(model, dtype=dtype_name(sd), tokenizer=tok, target="hf"))
