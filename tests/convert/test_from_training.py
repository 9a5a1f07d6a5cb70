"""Training checkpoints (torchrun, CPU) → consolidated weights → HF / mamba_ssm, and every way a checkpoint can be broken.

The same 3-step training runs as ZeRO-3 TP=2 (DP=1) and ZeRO-1 TP=1 DP=2 (see conftest);
the engine's equivalence test shows those trainings agree to 1e-5, so their conversions must too.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from biomamba.convert.source import read_source
from biomamba.model import MambaLM
from biomamba.tokenizer import load_tokenizer

from .helpers import no_leftovers, run_cli

pytestmark = pytest.mark.slow

transformers = pytest.importorskip("transformers")


def _rel(a, b) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


def test_both_layouts_convert_to_the_same_weights(training_runs):
    a, b = read_source(training_runs["zero3_tp2"]), read_source(training_runs["zero1_dp2"])
    assert a.meta["layout"] == {"dp": 1, "tp": 2, "world_size": 2, "zero_stage": 3}
    assert b.meta["layout"] == {"dp": 2, "tp": 1, "world_size": 2, "zero_stage": 1}
    assert a.config == b.config and set(a.state_dict) == set(b.state_dict)
    worst = max((_rel(a.state_dict[k], b.state_dict[k]), k) for k in a.state_dict)
    assert worst[0] <= 1e-5, worst
    init = MambaLM(a.config).init_weights(1234).state_dict()  # the engine's initial model (seed 1234)
    moved = max(_rel(a.state_dict[k], init[k]) for k in init)
    assert moved > 1e-3  # not vacuous: training changed the weights the two layouts agree on


def test_hf_export_from_tp2_zero3(training_runs, spm_path, tmp_path):
    run = training_runs["zero3_tp2"]
    out = tmp_path / "hf"
    assert run_cli(run, "--to", "hf", "--out", out, "--verify", "--verify-tol", "1e-5") == 0
    src = read_source(run)
    ours = MambaLM(src.config)
    ours.load_state_dict(src.state_dict)
    ours.eval()
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    ids = torch.randint(0, 512, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (hf(ids).logits - ours(ids)).abs().max().item() <= 1e-5
    generated = hf.generate(ids[:1, :6], max_new_tokens=8, do_sample=False, eos_token_id=None)
    assert generated.shape == (1, 14) and generated.tolist() == ours.generate(ids[:1, :6], max_new_tokens=8).tolist()

    # the training tokenizer (recorded in the run's config) ships with the model and loads offline
    tok = load_tokenizer(spm_path)
    auto = transformers.AutoTokenizer.from_pretrained(str(out))
    text = "Telomere length and TERT variants (p = 0.048) in 1,234 patients — β-cells."
    assert auto.encode(text, add_special_tokens=False) == tok.encode(text)
    assert load_tokenizer(out).content_hash == tok.content_hash == src.meta["tokenizer_hash"]
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["bos_token_id"], cfg["eos_token_id"], cfg["pad_token_id"]) == (tok.bos_id, tok.eos_id, tok.pad_id)
    card = (out / "README.md").read_text()
    assert "optimizer steps: 3" in card and f"tokens seen: {src.meta['train_state']['tokens_seen']:,}" in card
    assert "TP=2, DP=1, ZeRO-3" in card and tok.content_hash in card
    assert json.loads((out / "biomamba_meta.json").read_text())["tag"] == "step_00000003"


def test_mamba_ssm_export_from_zero1_dp2(training_runs, tmp_path):
    run = training_runs["zero1_dp2"]
    out = tmp_path / "ssm"
    assert run_cli(run / "checkpoints" / "step_00000003", "--to", "mamba_ssm", "--out", out, "--verify") == 0
    want = read_source(run).state_dict
    got = torch.load(out / "pytorch_model.bin", weights_only=True)
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)


def test_continued_pretraining_from_a_run_directory(training_runs, spm_path, repo_root):
    """init.from_pretrained also takes a training run; same tokenizer: the model is the consolidated one."""
    from biomamba.config import load_config
    from biomamba.convert.pretrained import load_for_continued_pretraining
    from biomamba.train.config import TrainConfig

    run = training_runs["zero3_tp2"]
    cfg = load_config(TrainConfig, repo_root / "configs/pretrain/tiny_synthetic.yaml",
                      [f"init.from_pretrained={run}", f"tokenizer={spm_path}", "init.vocab_policy=error"])
    model = load_for_continued_pretraining(cfg, is_main=False)
    want = read_source(run).state_dict
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())


@pytest.fixture
def broken_run(training_runs, tmp_path):
    """A private copy of the ZeRO-3 TP=2 run to damage."""
    dst = tmp_path / "run"
    shutil.copytree(training_runs["zero3_tp2"], dst)
    return dst, dst / "checkpoints" / "step_00000003"


def _fails(src, tmp_path, capsys, *extra) -> str:
    out = tmp_path / "out"
    assert run_cli(src, "--to", "hf", "--out", out, *extra) == 2
    assert no_leftovers(out)
    return capsys.readouterr().err


def test_missing_shard_is_named(broken_run, tmp_path, capsys):
    run, tag = broken_run
    (tag / "zero_pp_rank_0_mp_rank_01_optim_states.pt").unlink()
    err = _fails(run, tmp_path, capsys)
    assert "zero_pp_rank_0_mp_rank_01_optim_states.pt" in err and "lacks 1 shard file" in err


def test_truncated_shard_is_named(broken_run, tmp_path, capsys):
    run, tag = broken_run
    f = tag / "zero_pp_rank_0_mp_rank_00_model_states.pt"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    err = _fails(run, tmp_path, capsys)
    assert "zero_pp_rank_0_mp_rank_00_model_states.pt is corrupt or truncated" in err


def test_missing_tag_and_missing_latest(broken_run, tmp_path, capsys):
    run, _ = broken_run
    err = _fails(run, tmp_path, capsys, "--tag", "step_00000099")
    assert "'step_00000099' not found" in err and "step_00000003" in err
    (run / "checkpoints" / "latest").unlink()
    assert "no 'latest' file" in _fails(run, tmp_path, capsys)


def test_incomplete_tag(broken_run, tmp_path, capsys):
    run, tag = broken_run
    (tag / "COMPLETE").unlink()
    err = _fails(run, tmp_path, capsys, "--tag", "step_00000003")
    assert "incomplete (no COMPLETE marker)" in err


def test_layout_mismatch(broken_run, tmp_path, capsys):
    run, tag = broken_run
    meta = json.loads((tag / "biomamba_meta.json").read_text())
    meta["layout"]["tp"] = 1  # the meta no longer describes the shards
    (tag / "biomamba_meta.json").write_text(json.dumps(meta))
    err = _fails(run, tmp_path, capsys)
    assert "layout mismatch" in err and "mp_rank_01" in err
