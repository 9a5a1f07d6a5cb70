"""Model structure, initialization, recurrent inference and mixed precision."""

from __future__ import annotations

import math

import pytest
import torch

from biomamba.model import MambaConfig, MambaLM

SMALL = dict(d_model=64, n_layer=2, vocab_size=1001, ssm_cfg={"d_state": 8})


def small_model(seed=0, **kw):
    return MambaLM(MambaConfig(**{**SMALL, **kw})).init_weights(seed)


def test_parameter_names_and_shapes_follow_mamba_ssm():
    cfg = MambaConfig(**SMALL)
    m = MambaLM(cfg)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    di, r, n, V = cfg.d_inner, cfg.dt_rank, cfg.d_state, cfg.padded_vocab_size
    assert V == 1008  # padded to a multiple of 8
    expected = {"backbone.embedding.weight": (V, 64), "backbone.norm_f.weight": (64,), "lm_head.weight": (V, 64)}
    for i in range(2):
        p = f"backbone.layers.{i}."
        expected.update(
            {
                p + "norm.weight": (64,),
                p + "mixer.in_proj.weight": (2 * di, 64),
                p + "mixer.conv1d.weight": (di, 1, 4),
                p + "mixer.conv1d.bias": (di,),
                p + "mixer.x_proj.weight": (r + 2 * n, di),
                p + "mixer.dt_proj.weight": (di, r),
                p + "mixer.dt_proj.bias": (di,),
                p + "mixer.A_log": (di, n),
                p + "mixer.D": (di,),
                p + "mixer.out_proj.weight": (64, di),
            }
        )
    assert shapes == expected
    assert m.lm_head.weight is m.backbone.embedding.weight  # tied


def test_init_follows_mamba_ssm():
    m = small_model(seed=3)
    cfg = m.config
    mixer = m.backbone.layers[0].mixer
    assert torch.equal(mixer.A_log, torch.log(torch.arange(1, 9, dtype=torch.float32)).repeat(cfg.d_inner, 1))
    assert torch.equal(mixer.D, torch.ones(cfg.d_inner))
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias)
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001
    std = cfg.dt_rank**-0.5
    assert mixer.dt_proj.weight.abs().max() <= std
    assert abs(m.backbone.embedding.weight.std().item() - 0.02) < 0.002
    # out_proj: kaiming-uniform bound 1/sqrt(fan_in), then / sqrt(n_layer)
    bound = 1 / math.sqrt(cfg.d_inner) / math.sqrt(cfg.n_layer)
    assert mixer.out_proj.weight.abs().max() <= bound * 1.0001
    assert mixer.A_log.dtype == torch.float32 and mixer.D.dtype == torch.float32


def test_init_is_deterministic_and_meta_materializable():
    a = small_model(seed=7)
    with torch.device("meta"):
        b = MambaLM(MambaConfig(**SMALL))
    assert b.backbone.embedding.weight.is_meta
    b.to_empty(device="cpu")
    b.tie_weights()
    b.init_weights(seed=7)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert b.lm_head.weight is b.backbone.embedding.weight


def test_forward_shapes_and_scan_impls_agree():
    m = small_model()
    x = torch.randint(0, 1001, (3, 17))
    logits = m(x)
    assert logits.shape == (3, 17, 1008)
    m.config.scan_impl = "reference"
    ref = m(x)
    m.config.scan_impl = "fast"
    torch.testing.assert_close(logits, ref, rtol=1e-5, atol=1e-5)
    assert m(x, num_last_tokens=1).shape == (3, 1, 1008)


def test_step_matches_full_forward():
    m = small_model().eval()
    x = torch.randint(0, 1001, (2, 12))
    with torch.no_grad():
        full = m(x)
        for prefix in (1, 3, 5):  # prefill shorter and longer than d_conv
            caches = m.allocate_cache(2)
            outs = [m(x[:, :prefix], caches=caches)[:, -1]]
            for t in range(prefix, 12):
                outs.append(m.step(x[:, t : t + 1], caches)[:, -1])
            torch.testing.assert_close(torch.stack(outs, 1), full[:, prefix - 1 :], rtol=1e-5, atol=1e-5)


def test_greedy_generate_equals_argmax_of_full_forward():
    m = small_model().eval()
    x = torch.randint(0, 1001, (2, 6))
    out = m.generate(x, max_new_tokens=8)
    assert out.shape == (2, 14) and torch.equal(out[:, :6], x)
    with torch.no_grad():
        logits = m(out)[:, 5:-1, :1001]  # never the padded vocab slots
    assert torch.equal(out[:, 6:], logits.argmax(-1))


def test_generate_eos_stop_and_sampling_filters():
    m = small_model().eval()
    x = torch.randint(0, 1001, (2, 4))
    greedy = m.generate(x, max_new_tokens=6)
    eos = int(greedy[0, 5])  # the 2nd generated token of row 0 becomes "EOS"
    out = m.generate(x, max_new_tokens=20, eos_token_id=eos)
    assert (out[0, 5:] == eos).all()
    assert out.shape[1] <= 24
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        first = m(x)[:, -1, :1001]
    allowed = torch.topk(first, 3, dim=-1).indices
    for _ in range(5):
        s = m.generate(x, max_new_tokens=1, temperature=1.0, top_k=3, generator=g)[:, -1]
        assert all(int(s[i]) in allowed[i].tolist() for i in range(2))
        s = m.generate(x, max_new_tokens=1, temperature=1.0, top_p=1e-6, generator=g)[:, -1]
        assert torch.equal(s, first.argmax(-1))  # top_p→0 keeps only the most likely token


def test_bf16_autocast_keeps_ssm_parameters_fp32():
    m = small_model()
    x = torch.randint(0, 1001, (2, 16))
    ref = m(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x)
    assert m.backbone.layers[0].mixer.A_log.dtype == torch.float32
    assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max()
    out.float().sum().backward()
    assert m.backbone.layers[0].mixer.A_log.grad.dtype == torch.float32


def test_gradient_checkpointing_same_gradients():
    m = small_model()
    x = torch.randint(0, 1001, (2, 10))
    m(x).logsumexp(-1).mean().backward()
    g1 = {k: p.grad.clone() for k, p in m.named_parameters()}
    m.zero_grad()
    m.backbone.gradient_checkpointing = True
    m(x).logsumexp(-1).mean().backward()
    for k, p in m.named_parameters():
        torch.testing.assert_close(p.grad, g1[k], rtol=1e-5, atol=1e-6)


def test_invalid_config_errors_are_actionable():
    from biomamba.config import ConfigError

    with pytest.raises(ConfigError, match="ssm_cfg.layer: 'Mamba3' is not supported"):  # Mamba2 is (issue 13)
        MambaConfig(ssm_cfg={"layer": "Mamba3"}).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        MambaConfig(ssm_cfg={"d_stat": 16}).validate()
    with pytest.raises(ConfigError, match="attention"):
        MambaConfig(attn_layer_idx=[3]).validate()
