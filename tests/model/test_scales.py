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
