"""CLI behaviour: exit codes and messages, atomic output, --verify catching a wrong export, --tp checks."""

from __future__ import annotations

import subprocess
import sys

import torch
from safetensors.torch import load_file, save_file

from biomamba.convert.verify import VerificationError, verify

from .helpers import REPO, export_to, loaded, no_leftovers, run_cli, tiny_model


def test_unknown_and_missing_sources_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(tmp_path / "empty", "--to", "hf", "--out", tmp_path / "o1") == 2
    assert "unknown source" in capsys.readouterr().err
    assert run_cli(tmp_path / "nope", "--to", "hf", "--out", tmp_path / "o2") == 2
    assert "no such directory" in capsys.readouterr().err
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text('{"model_type": "llama"}')
    assert run_cli(tmp_path / "llama", "--to", "hf", "--out", tmp_path / "o3") == 2
    assert "is not a Mamba model" in capsys.readouterr().err
    assert no_leftovers(tmp_path / "o1") and no_leftovers(tmp_path / "o2") and no_leftovers(tmp_path / "o3")


def test_existing_output_needs_overwrite(tmp_path, capsys):
    src = export_to(loaded(tiny_model()), tmp_path / "src", "mamba_ssm")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    assert run_cli(src, "--to", "hf", "--out", tmp_path / "out") == 2
    assert "already exists" in capsys.readouterr().err
    assert run_cli(src, "--to", "hf", "--out", tmp_path / "out", "--overwrite") == 0
    assert (tmp_path / "out" / "model.safetensors").is_file() and not (tmp_path / "out" / "old.txt").exists()


def test_failed_export_leaves_nothing(tmp_path, capsys):
    src = export_to(loaded(tiny_model()), tmp_path / "src", "mamba_ssm")
    assert run_cli(src, "--to", "hf", "--out", tmp_path / "out", "--tokenizer", tmp_path / "missing.model") == 2
    assert "missing.model" in capsys.readouterr().err
    assert no_leftovers(tmp_path / "out")


def test_tp_check(tmp_path, capsys):
    src = export_to(loaded(tiny_model(vocab=1000)), tmp_path / "src", "hf")  # d_inner 64, padded vocab 1000
    assert run_cli(src, "--to", "biomamba", "--out", tmp_path / "tp3", "--tp", "3") == 2
    err = capsys.readouterr().err
    assert "cannot be split over TP=3" in err and "d_inner=64" in err
    assert run_cli(src, "--to", "biomamba", "--out", tmp_path / "tp16", "--tp", "16") == 2
    assert "pad_vocab_size_multiple" in capsys.readouterr().err
    assert run_cli(src, "--to", "biomamba", "--out", tmp_path / "tp4", "--tp", "4") == 0


def test_verify_catches_a_corrupted_export(tmp_path):
    """--verify is not vacuous: one perturbed tensor in the written files makes it fail."""
    m = loaded(tiny_model(seed=9))
    out = export_to(m, tmp_path / "hf", "hf")
    assert verify(m, out, "hf", tol=1e-5)["passed"]
    w = load_file(out / "model.safetensors")
    w["backbone.layers.1.mixer.x_proj.weight"][0, 0] += 0.5
    save_file(w, out / "model.safetensors", metadata={"format": "pt"})
    try:
        verify(m, out, "hf", tol=1e-5)
    except VerificationError as exc:
        assert "max |logit diff|" in str(exc)
    else:
        raise AssertionError("verify accepted a corrupted export")


def test_verify_failure_exits_3_and_publishes_nothing(tmp_path, capsys, monkeypatch):
    """An export that does not reproduce the model is never published (here: a writer bug doubling norm_f)."""
    from biomamba.convert import export_hf

    src = export_to(loaded(tiny_model(seed=10)), tmp_path / "src", "mamba_ssm")
    orig = export_hf.hfmap.hf_state_dict_from_ours

    def broken(sd):
        out = orig(sd)
        out["backbone.norm_f.weight"] = out["backbone.norm_f.weight"] * 2
        return out

    monkeypatch.setattr(export_hf.hfmap, "hf_state_dict_from_ours", broken)
    assert run_cli(src, "--to", "hf", "--out", tmp_path / "out", "--verify") == 3
    assert "verification failed" in capsys.readouterr().err
    assert no_leftovers(tmp_path / "out")


def test_launcher_script_runs(tmp_path):
    src = export_to(loaded(tiny_model()), tmp_path / "src", "hf")
    proc = subprocess.run([sys.executable, str(REPO / "launcher" / "convert.py"), str(src), "--to", "mamba_ssm",
                           "--out", str(tmp_path / "ssm"), "--verify"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"passed": true' in proc.stdout
    assert torch.load(tmp_path / "ssm" / "pytorch_model.bin", weights_only=True)


def test_untied_hf_without_head_is_refused(tmp_path, capsys):
    out = export_to(loaded(tiny_model(tie=False)), tmp_path / "hf", "hf")
    w = load_file(out / "model.safetensors")
    del w["lm_head.weight"]
    save_file(w, out / "model.safetensors", metadata={"format": "pt"})
    assert run_cli(out, "--to", "mamba_ssm", "--out", tmp_path / "ssm") == 2
    assert "no lm_head.weight" in capsys.readouterr().err
