"""Mamba language model: embedding → blocks → final norm → (tied) head.

Parameter names and shapes are those of ``mamba_ssm.models.mixer_seq_simple.MambaLMHeadModel``
(``backbone.embedding.weight``, ``backbone.layers.{i}.mixer.*``, ``backbone.layers.{i}.norm.weight``,
``backbone.norm_f.weight``, ``lm_head.weight``), so its checkpoints load with ``load_state_dict``.
HF's ``MambaForCausalLM`` differs only in ``backbone.embeddings.weight`` (see biomamba.convert).

Construction allocates parameters without meaningful values; :meth:`MambaLM.init_weights`
initializes them (so a model can be built on the ``meta`` device, sharded, then materialized).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from biomamba.ops import add_rms_norm
from biomamba.ops.xent import chunked_head_nll, token_nll_full_vocab

from .block import MambaBlock, RMSNorm
from .config import MambaConfig
from .mixer import LayerCache
from .mixer2 import Mamba2Cache


class MambaBackbone(nn.Module):
    def __init__(self, config: MambaConfig, device=None, dtype=None):
        super().__init__()
        self.embedding = nn.Embedding(config.padded_vocab_size, config.d_model, device=device, dtype=dtype)
        self.layers = nn.ModuleList(MambaBlock(config, i, device=device, dtype=dtype) for i in range(config.n_layer))
        self.norm_f = RMSNorm(config.d_model, config.norm_epsilon, device=device, dtype=dtype)
        self.residual_in_fp32 = config.residual_in_fp32
        self.kernel_impl = config.kernel_impl
        # Set by the training engine (activation checkpointing per block); a model concern, not a distributed one.
        self.gradient_checkpointing = False

    def forward(self, input_ids: torch.Tensor, caches: list[LayerCache] | None = None) -> torch.Tensor:
        hidden, residual = self.embedding(input_ids), None
        for i, layer in enumerate(self.layers):
            if self.gradient_checkpointing and self.training and caches is None:
                hidden, residual = checkpoint(layer, hidden, residual, use_reentrant=False)
            else:
                hidden, residual = layer(hidden, residual, caches[i] if caches is not None else None)
        return self._final(hidden, residual)

    def step(self, input_ids: torch.Tensor, caches: list[LayerCache]) -> torch.Tensor:
        hidden, residual = self.embedding(input_ids), None
        for layer, cache in zip(self.layers, caches):
            hidden, residual = layer.step(hidden, residual, cache)
        return self._final(hidden, residual)

    def _final(self, hidden, residual):
        return add_rms_norm(hidden, residual, self.norm_f.weight, self.norm_f.eps, impl=self.kernel_impl)[0]


class MambaLM(nn.Module):
    def __init__(self, config: MambaConfig, device=None, dtype=None):
        super().__init__()
        config.validate()
        self.config = config
        self.backbone = MambaBackbone(config, device=device, dtype=dtype)
        self.lm_head = nn.Linear(config.d_model, config.padded_vocab_size, bias=False, device=device, dtype=dtype)
        self.tie_weights()

    def tie_weights(self) -> None:
        if self.config.tie_embeddings:
            self.lm_head.weight = self.backbone.embedding.weight

    @torch.no_grad()
    def init_weights(self, seed: int | None = None) -> "MambaLM":
        """mamba_ssm's initialization (``_init_weights`` + the mixer's dt/A/D init).

        Deterministic given ``seed`` (or the current torch RNG state when None).
        """
        cfg = self.config
        if seed is not None:
            torch.manual_seed(seed)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, RMSNorm)):
                m.reset_parameters()
        for m in self.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        # After the zeroing: dt_proj's bias (Mamba-1) / dt_bias, A_log, D (Mamba-2) are set here (mamba_ssm's _no_reinit).
        for layer in self.backbone.layers:
            layer.mixer.init_ssm_parameters()
        nn.init.normal_(self.backbone.embedding.weight, std=cfg.initializer_range)
        if cfg.rescale_prenorm_residual:
            # GPT-2 style: scale residual-branch output projections by 1/sqrt(n_layer).
            for layer in self.backbone.layers:
                w = layer.mixer.out_proj.weight
                nn.init.kaiming_uniform_(w, a=math.sqrt(5))
                w /= math.sqrt(cfg.n_residuals_per_layer * cfg.n_layer)
        self.tie_weights()
        return self

    def forward(self, input_ids: torch.Tensor, caches: list[LayerCache] | None = None, num_last_tokens: int = 0,
                labels: torch.Tensor | None = None, loss_chunk_tokens: int = 0):
        """input_ids (batch, L) -> logits (batch, L, padded_vocab_size) (last ``num_last_tokens`` only if > 0).

        With ``labels`` (batch, L): the per-token next-token nll and the mask of scored tokens instead
        (:func:`biomamba.ops.xent.chunked_head_nll`; ``loss_chunk_tokens`` > 0 bounds the logits' memory).
        """
        hidden = self.backbone(input_ids, caches)
        if labels is not None:
            return chunked_head_nll(hidden, labels, self._head_nll, loss_chunk_tokens)
        if num_last_tokens > 0:
            hidden = hidden[:, -num_last_tokens:]
        return self.lm_head(hidden)

    def _head_nll(self, hidden: torch.Tensor, labels: torch.Tensor):
        # A vocabulary-parallel head (biomamba.parallel) brings its own cross-entropy over the slices.
        nll_fn = getattr(self.lm_head, "token_nll", token_nll_full_vocab)
        return nll_fn(self.lm_head(hidden), labels)

    # ----- recurrent inference -----
    def allocate_cache(self, batch: int) -> list[LayerCache]:
        dtype = self.backbone.embedding.weight.dtype
        cache_cls = Mamba2Cache if self.config.is_mamba2 else LayerCache
        return [cache_cls(batch, layer.mixer, dtype) for layer in self.backbone.layers]

    def step(self, input_ids: torch.Tensor, caches: list[LayerCache]) -> torch.Tensor:
        """One token per sequence: input_ids (batch, 1) -> logits (batch, 1, V); updates ``caches``."""
        return self.lm_head(self.backbone.step(input_ids, caches))

    def generate(self, input_ids: torch.Tensor, **kwargs) -> torch.Tensor:
        """See :func:`biomamba.model.generation.generate`."""
        from .generation import generate

        return generate(self, input_ids, **kwargs)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
