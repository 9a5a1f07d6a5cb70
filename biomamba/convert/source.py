"""Every input the converter accepts, read into one :class:`LoadedModel` (config + full state dict + provenance).

Sources, detected from the directory's contents:

* ``training``: a run directory, its ``checkpoints/`` folder, or one tag folder
  (``checkpoints/step_XXXXXXXX``) — consolidated by :mod:`.consolidate`;
* ``biomamba``: our own export (``biomamba_model.json`` + ``model.safetensors``);
* ``hf``: a Hugging Face ``MambaForCausalLM`` / ``Mamba2ForCausalLM`` directory (``model_type: mamba`` / ``mamba2``);
* ``mamba_ssm``: a mamba_ssm ``MambaLMHeadModel`` directory (``config.json`` with ``d_model``/``n_layer``).

State dicts always use our (= mamba_ssm's) parameter names and include ``lm_head.weight``
(the embedding tensor itself when tied).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from biomamba.config import ConfigError, from_dict
from biomamba.model import MambaConfig
from biomamba.rundir import LATEST, META, checkpoints_dir, is_tag_dir, is_training_dir

from . import hf as hfmap
from .consolidate import ConversionError, consolidate
from .weights import has_weights, load_weights

BIOMAMBA_MODEL = "biomamba_model.json"
BIOMAMBA_FORMAT = "biomamba-model/1"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja")
# HF config keys our MambaConfig determines; everything else in a source config.json is carried over.
HF_DERIVED = {"vocab_size", "hidden_size", "state_size", "num_hidden_layers", "layer_norm_epsilon", "expand",
              "conv_kernel", "use_bias", "use_conv_bias", "hidden_act", "initializer_range", "residual_in_fp32",
              "time_step_rank", "time_step_scale", "time_step_min", "time_step_max", "time_step_init_scheme",
              "time_step_floor", "rescale_prenorm_residual", "tie_word_embeddings", "intermediate_size",
              "biomamba_vocab_size", "biomamba_rescale_prenorm_residual", "model_type", "transformers_version", "dtype", "torch_dtype",
              # Mamba2Config's own
              "num_heads", "head_dim", "n_groups", "time_step_limit", "chunk_size"}


@dataclasses.dataclass
class LoadedModel:
    kind: str  # training | biomamba | hf | mamba_ssm
    path: Path
    config: MambaConfig
    state_dict: dict[str, torch.Tensor]
    meta: dict | None = None  # biomamba_meta.json of the training checkpoint it came from
    tokenizer_path: Path | None = None  # tokenizer file or a directory holding tokenizer files
    tokenizer_hash: str | None = None  # content hash of the tokenizer the model was trained with
    hf_extra: dict = dataclasses.field(default_factory=dict)  # carried-over HF config keys (token ids, flags)

    def describe(self) -> str:
        return f"{self.kind} model at {self.path}"


def _read_json(p: Path) -> dict:
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{p}: not valid JSON ({exc})") from exc


def detect(path: str | Path) -> str:
    p = Path(path)
    if not p.is_dir():
        raise ConversionError(f"{p}: no such directory")
    if (p / BIOMAMBA_MODEL).is_file():
        return "biomamba"
    if is_training_dir(p) or any(p.glob("step_*")):
        return "training"
    if (p / "config.json").is_file():
        cfg = _read_json(p / "config.json")
        if cfg.get("model_type") in ("mamba", "mamba2"):
            return "hf"
        if "model_type" in cfg:
            raise ConversionError(f"{p}: model_type={cfg['model_type']!r} is not a Mamba model (expected 'mamba' or 'mamba2')")
        if "d_model" in cfg and "n_layer" in cfg:
            return "mamba_ssm"
    raise ConversionError(
        f"{p}: unknown source — not a training run/checkpoint, a BioMamba export ({BIOMAMBA_MODEL}), "
        "an HF MambaForCausalLM/Mamba2ForCausalLM directory or a mamba_ssm directory")


def _tokenizer_in(d: Path) -> Path | None:
    if (d / "tokenizer.json").is_file() or any(d.glob("*.model")):
        return d
    return None


def _hash_in(d: Path) -> str | None:
    p = d / "tokenizer_config.json"
    if p.is_file():
        return _read_json(p).get("biomamba_tokenizer_hash")
    return None


def tokenizer_hashes(tok, path: str | Path) -> set[str]:
    """Content hashes that identify tokenizer ``tok`` opened from ``path``.

    Its own file's hash, plus the original's that an export recorded in ``tokenizer_config.json``
    (``biomamba_tokenizer_hash``): an exported ``tokenizer.json`` is re-serialized (no
    post-processor), so its bytes — and hash — differ from the file the model was trained with.
    Compare a model's recorded ``tokenizer_hash`` against this set, not against ``content_hash``.
    """
    path = Path(path)
    recorded = _hash_in(path if path.is_dir() else path.parent)
    return {tok.content_hash} | ({recorded} if recorded else set())


def _meta_in(d: Path) -> dict | None:
    return _read_json(d / META) if (d / META).is_file() else None


def _check_state(cfg: MambaConfig, sd: dict[str, torch.Tensor], where: Path) -> dict[str, torch.Tensor]:
    """Every parameter present with the shape the config implies (else: layout mismatch / wrong config)."""
    from biomamba.model import MambaLM

    sd = dict(sd)
    if cfg.tie_embeddings and hfmap.OURS_EMB in sd:
        sd.setdefault("lm_head.weight", sd[hfmap.OURS_EMB])  # tied heads are often not serialized
    expected = {k: tuple(v.shape) for k, v in MambaLM(cfg, device="meta").state_dict().items()}
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = [f"{k}: {tuple(sd[k].shape)} (config implies {s})" for k, s in expected.items() if k in sd and tuple(sd[k].shape) != s]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:4]}{' …' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:4]}{' …' if len(unexpected) > 4 else ''}")
        if wrong:
            parts.append("shape mismatch " + "; ".join(wrong[:4]))
        raise ConversionError(f"{where}: weights do not match the model config (layout mismatch?): " + ", ".join(parts))
    if cfg.tie_embeddings and not torch.equal(sd["lm_head.weight"], sd[hfmap.OURS_EMB]):
        raise ConversionError(f"{where}: config says tied embeddings but lm_head.weight differs from the embedding")
    return sd


def _read_training(p: Path, tag: str) -> LoadedModel:
    if is_tag_dir(p):  # a tag folder was given
        if tag not in (LATEST, p.name):
            raise ConversionError(f"{p} is the checkpoint {p.name!r}; it contradicts --tag {tag}")
        tag, p = p.name, p.parent
    cfg, sd, meta = consolidate(p, tag)
    tok_path = meta.get("config", {}).get("tokenizer")
    tok = Path(tok_path) if tok_path and Path(tok_path).exists() else None
    return LoadedModel("training", checkpoints_dir(p, ConversionError) / meta.get("tag", tag), cfg, _check_state(cfg, sd, p), meta, tok,
                       meta.get("tokenizer_hash"))


def _read_biomamba(p: Path) -> LoadedModel:
    head = _read_json(p / BIOMAMBA_MODEL)
    if head.get("format") != BIOMAMBA_FORMAT:
        raise ConversionError(f"{p / BIOMAMBA_MODEL}: format {head.get('format')!r}, this version reads {BIOMAMBA_FORMAT!r}")
    try:
        cfg = from_dict(MambaConfig, head["config"]).validate()
    except (ConfigError, KeyError) as exc:
        raise ConversionError(f"{p / BIOMAMBA_MODEL}: bad model config ({exc})") from exc
    sd = _check_state(cfg, load_weights(p), p)
    return LoadedModel("biomamba", p, cfg, sd, _meta_in(p), _tokenizer_in(p),
                       head.get("tokenizer_hash") or _hash_in(p), dict(head.get("hf_extra") or {}))


def _read_hf(p: Path) -> LoadedModel:
    raw = _read_json(p / "config.json")
    try:
        cfg = hfmap.ours_config_from_hf(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConversionError(f"{p / 'config.json'}: cannot map this HF Mamba config ({exc})") from exc
    weights = load_weights(p)
    if not cfg.tie_embeddings and "lm_head.weight" not in weights:
        raise ConversionError(f"{p}: tie_word_embeddings is false but the weights hold no lm_head.weight")
    sd = _check_state(cfg, hfmap.ours_state_dict_from_hf(weights), p)
    extra = {k: v for k, v in raw.items() if k not in HF_DERIVED}
    return LoadedModel("hf", p, cfg, sd, _meta_in(p), _tokenizer_in(p), _hash_in(p), extra)


def _read_mamba_ssm(p: Path) -> LoadedModel:
    try:
        cfg = MambaConfig.from_mamba_ssm_dict(_read_json(p / "config.json"))
    except ConfigError as exc:
        raise ConversionError(f"{p / 'config.json'}: not a Mamba-1/Mamba-2 mamba_ssm config ({exc})") from exc
    sd = _check_state(cfg, load_weights(p), p)
    return LoadedModel("mamba_ssm", p, cfg, sd, _meta_in(p), _tokenizer_in(p), _hash_in(p))


def read_source(path: str | Path, tag: str = LATEST) -> LoadedModel:
    """Read any supported source into a :class:`LoadedModel` (``tag`` applies to training checkpoints)."""
    p = Path(path)
    kind = detect(p)
    if kind == "training":
        return _read_training(p, tag)
    if not has_weights(p):
        raise ConversionError(f"{p}: {kind} directory without weight files")
    return {"biomamba": _read_biomamba, "hf": _read_hf, "mamba_ssm": _read_mamba_ssm}[kind](p)
