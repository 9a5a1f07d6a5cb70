"""Our state dict loads into transformers' MambaForCausalLM and gives the same logits (fp32, CPU).

Key mapping: ours/mamba_ssm ``backbone.embedding.weight`` == HF ``backbone.embeddings.weight``;
every other key is identical. HF's vocab_size is our *padded* vocabulary.
"""

from __future__ import annotations

import pytest
import torch

from biomamba.convert.hf import hf_config_from_ours, hf_state_dict_from_ours, ours_state_dict_from_hf
from biomamba.model import MambaConfig, MambaLM

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("vocab", [1000, 1003])
def test_logits_match_hf(vocab):
    cfg = MambaConfig(d_model=64, n_layer=3, vocab_size=vocab, ssm_cfg={"d_state": 8})
    ours = MambaLM(cfg).init_weights(1).eval()
    hf = transformers.MambaForCausalLM(hf_config_from_ours(cfg)).eval()
    missing, unexpected = hf.load_state_dict(hf_state_dict_from_ours(ours.state_dict()), strict=True), None
    x = torch.randint(0, vocab, (2, 19))
    with torch.no_grad():
        a = ours(x)
        b = hf(x).logits
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # and back: HF -> ours is the identity on values
    back = ours_state_dict_from_hf(hf.state_dict())
    for k, v in ours.state_dict().items():
        assert torch.equal(back[k], v), k
