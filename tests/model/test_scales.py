"""Every shipped model scale has the exact dimensions and parameter count of its state-spaces/mamba checkpoint."""

from __future__ import annotations

import re

import pytest
import torch

from biomamba.config import load_config
from biomamba.model import MambaConfig, MambaLM, param_count

# name: (d_model, n_layer, parameters) — the public checkpoints' sizes.
SCALES = {
    "tiny": (256, 4, 2_800_896),
    "130m": (768, 24, 129_135_360),
    "370m": (1024, 48, 371_516_416),
    "790m": (1536, 48, 793_204_224),
    "1.4b": (2048, 48, 1_372_178_432),
    "2.8b": (2560, 64, 2_768_345_600),
}


@pytest.mark.parametrize("name", SCALES)
def test_scale(name, repo_root):
    path = repo_root / "configs" / "model" / f"{name}.yaml"
    cfg = load_config(MambaConfig, path)
    d_model, n_layer, params = SCALES[name]
    assert (cfg.d_model, cfg.n_layer) == (d_model, n_layer)
    assert cfg.d_state == 16 and cfg.d_conv == 4 and cfg.expand == 2
    assert cfg.dt_rank == -(-d_model // 16)
    if name != "tiny":
        assert cfg.vocab_size == 50277 and cfg.padded_vocab_size == 50280
    assert param_count(cfg) == params
    with torch.device("meta"):
        assert MambaLM(cfg).num_parameters() == params
    # The count written in the file's comment is the pinned one.
    comment = re.search(r"Parameters: ([\d,]+)", path.read_text()).group(1)
    assert int(comment.replace(",", "")) == params


# Mamba-2 (state-spaces/mamba2-*): (d_model, n_layer, parameters) from the published checkpoints' shapes
# (in_proj d×(2·d_inner + 2·128 + nheads), conv1d over d_inner + 256 channels, per-head dt_bias/A_log/D,
# gated norm d_inner, out_proj; vocab 50277 padded to 50288; tied embeddings).
MAMBA2_SCALES = {
    "mamba2-130m": (768, 24, 128_989_632),
    "mamba2-370m": (1024, 48, 368_346_624),
    "mamba2-780m": (1536, 48, 780_161_280),
    "mamba2-1.3b": (2048, 48, 1_343_757_312),
    "mamba2-2.7b": (2560, 64, 2_702_599_680),
}


@pytest.mark.parametrize("name", MAMBA2_SCALES)
def test_mamba2_scale(name, repo_root):
    path = repo_root / "configs" / "model" / f"{name}.yaml"
    cfg = load_config(MambaConfig, path)
    d_model, n_layer, params = MAMBA2_SCALES[name]
    assert cfg.is_mamba2 and (cfg.d_model, cfg.n_layer) == (d_model, n_layer)
    assert (cfg.d_state, cfg.headdim, cfg.ngroups, cfg.ssm("chunk_size")) == (128, 64, 1, 256)
    assert cfg.vocab_size == 50277 and cfg.padded_vocab_size == 50288 and cfg.tie_embeddings
    assert param_count(cfg) == params
    with torch.device("meta"):
        assert MambaLM(cfg).num_parameters() == params
    comment = re.search(r"Parameters: ([\d,]+)", path.read_text()).group(1)
    assert int(comment.replace(",", "")) == params
