"""Import a pretrained model for continued pretraining (``init.from_pretrained``).

Accepted: HF ``MambaForCausalLM`` directories, mamba_ssm directories, BioMamba exports and
training run/checkpoint directories (see :mod:`.source`). Weights are read with safetensors
or ``torch.load(weights_only=True)`` only. The model is returned full on every rank;
:func:`biomamba.parallel.parallelize` then splits it over TP (why not per-rank files: see
:mod:`.export_biomamba`).

Model config: the architecture comes from the pretrained directory; the vocabulary size
from our tokenizer (``cfg.tokenizer``); the fields in :data:`OURS` (padding, scan settings,
initialization of new rows) from ``cfg.model``. ``cfg.model`` is replaced in place, so
the run's checkpoints record the model actually trained.

Vocabulary policy (``init.vocab_policy``), when our tokenizer differs from the source
model's (``init.source_tokenizer``, else the tokenizer files in the pretrained directory):

* ``overlap``: keep the embedding (and untied head) rows of tokens whose string exists in
  both vocabularies, initialize the other rows as a fresh model would (seeded by ``seed``);
* ``error``: refuse.

With the same tokenizer (same content hash or identical id → string table), or no
``cfg.tokenizer`` at all, every row is kept and the source's vocabulary size is used, so the
model is unchanged (up to re-padding: rows beyond the old padding are initialized).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from biomamba.config import ConfigError
from biomamba.model import MambaConfig, MambaLM

from .consolidate import ConversionError
from .source import LoadedModel, read_source, tokenizer_hashes
from .vocab import overlap_mapping, same_vocabulary, token_strings

VOCAB_PARAMS = ("backbone.embedding.weight", "lm_head.weight")
# Taken from our config, not the pretrained one: padding and how to compute (the shapes do not
# depend on them), and how new rows are initialized (HF configs often carry initializer_range=0.1,
# transformers' default, where mamba_ssm initializes embeddings with 0.02).
OURS = ("pad_vocab_size_multiple", "scan_impl", "kernel_impl", "scan_chunk_size", "initializer_range", "rescale_prenorm_residual",
        "n_residuals_per_layer")


def read_pretrained(path: str | Path) -> tuple[MambaConfig, dict[str, torch.Tensor]]:
    """(config, full state dict with our parameter names) of an HF, mamba_ssm, BioMamba or training directory."""
    m = read_source(path)
    return m.config, m.state_dict


def _open_tokenizer(path, key: str):
    from biomamba.tokenizer import TokenizerError, load_tokenizer

    try:
        return load_tokenizer(path)
    except TokenizerError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def _source_tokenizer(cfg, src: LoadedModel):
    if cfg.init.source_tokenizer:
        return _open_tokenizer(cfg.init.source_tokenizer, "init.source_tokenizer")
    if src.tokenizer_path is not None:
        return _open_tokenizer(src.tokenizer_path, f"init.from_pretrained (tokenizer files in {src.tokenizer_path})")
    return None


def plan_vocabulary(cfg, src: LoadedModel) -> tuple[int, dict[int, int] | None, str]:
    """(our vocab_size, {our id: source row} or None for "identity", description for the log)."""
    if not cfg.tokenizer:
        return src.config.vocab_size, None, "no tokenizer configured: the pretrained vocabulary is kept"
    ours = _open_tokenizer(cfg.tokenizer, "tokenizer")
    theirs = _source_tokenizer(cfg, src)
    known = {src.tokenizer_hash} | (tokenizer_hashes(theirs, theirs.path) if theirs is not None else set())
    same = bool(tokenizer_hashes(ours, cfg.tokenizer) & known)
    if not same and theirs is not None:
        same = same_vocabulary(token_strings(ours), token_strings(theirs))
    if same:
        return max(src.config.vocab_size, ours.vocab_size), None, "same tokenizer as the pretrained model"
    if cfg.init.vocab_policy == "error":
        raise ConfigError(
            f"init.vocab_policy=error: tokenizer {cfg.tokenizer} differs from the pretrained model's "
            f"({theirs.path if theirs is not None else 'unknown'}); use the model's tokenizer or vocab_policy=overlap")
    if theirs is None:
        raise ConfigError(
            f"init.source_tokenizer: {cfg.init.from_pretrained} has no tokenizer files and its tokenizer is not "
            f"{cfg.tokenizer}; set init.source_tokenizer to the pretrained model's tokenizer so rows can be mapped")
    rows = src.state_dict["backbone.embedding.weight"].shape[0]
    mapping = overlap_mapping(token_strings(ours), token_strings(theirs), min(rows, theirs.vocab_size))
    return ours.vocab_size, mapping, f"tokenizer differs from {theirs.path}: rows of shared token strings kept"


@torch.no_grad()
def build_from_source(cfg, src: LoadedModel, new_cfg: MambaConfig, mapping: dict[int, int] | None) -> tuple[MambaLM, int]:
    """A model initialized as a fresh run would be, then overwritten with every source tensor that maps."""
    model = MambaLM(new_cfg).init_weights(cfg.seed)
    own = model.state_dict()
    kept = 0
    for name, target in own.items():
        if name == "lm_head.weight" and new_cfg.tie_embeddings:
            continue
        source = src.state_dict[name].to(target.dtype)
        if name not in VOCAB_PARAMS:
            target.copy_(source)
            continue
        if mapping is None:
            n = min(source.shape[0], target.shape[0])
            target[:n] = source[:n]
            kept = n
        elif mapping:
            ours_ids = torch.tensor(sorted(mapping))
            target[ours_ids] = source[torch.tensor([mapping[i] for i in sorted(mapping)])]
            kept = len(mapping)
    model.tie_weights()
    return model, kept


def load_for_continued_pretraining(cfg, is_main: bool) -> MambaLM:
    """The full (unsharded) model to continue training from ``cfg.init.from_pretrained``; updates ``cfg.model``."""
    path = cfg.init.from_pretrained
    try:
        src = read_source(path)
    except ConversionError as exc:
        raise ConfigError(f"init.from_pretrained: {exc}") from exc
    vocab, mapping, how = plan_vocabulary(cfg, src)
    ours = {k: getattr(cfg.model, k) for k in OURS}
    new_cfg = dataclasses.replace(src.config, vocab_size=vocab, ssm_cfg=dict(src.config.ssm_cfg), **ours).validate()
    cfg.model = new_cfg
    cfg.check()  # tensor-parallel divisibility with the model actually built
    model, kept = build_from_source(cfg, src, new_cfg, mapping)
    if is_main:
        rows = new_cfg.padded_vocab_size
        print(f"[biomamba] init.from_pretrained: {path} ({src.kind}, {src.config.n_layer} layers, d_model "
              f"{src.config.d_model}); {how}; kept {kept} of {rows} embedding rows, initialized {rows - kept}",
              flush=True)
    return model
