"""End to end under torchrun (2 ranks, DP=2, ZeRO-1, fp32): fine-tuning a tiny model on the learnable
yes/no fixture raises dev accuracy above the untuned model's, keeps the best checkpoint, stops early,
resumes exactly after kill -9, and launcher/evaluate.py compares the untuned and fine-tuned models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from biomamba.config import load_config
from biomamba.convert.source import LoadedModel, read_source
from biomamba.eval.bioasq.scorer import score_files
from biomamba.finetune.build import build_finetune_data
from biomamba.finetune.config import FinetuneConfig
from biomamba.model import MambaLM
from biomamba.train.checkpoint import COMPLETE
from biomamba.parallel import ParallelDims
from tests.train.launch import ENV, REPO, assert_resumed, kill9_at_step, losses, records, torchrun_cmd

from .conftest import TINY

pytestmark = pytest.mark.slow
LAUNCHER = REPO / "launcher" / "finetune.py"
FIXTURE = REPO / "tests" / "fixtures" / "eval"
PATIENCE = 3


@pytest.fixture(scope="module")
def untuned_dir(tmp_path_factory, sp_model_path):
    """The model before fine-tuning: a tiny random-init MambaLM exported as a Hugging Face directory."""
    from biomamba.convert.export import export

    cfg = load_config(FinetuneConfig, REPO / TINY, [f"tokenizer={sp_model_path}", "model.vocab_size=1000"])
    model = MambaLM(cfg.model).init_weights(cfg.seed)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = tmp_path_factory.mktemp("untuned") / "hf"
    export(LoadedModel("biomamba", Path("<memory>"), cfg.model, state), out, "hf", tokenizer=sp_model_path)
    return out


def overrides(untuned_dir, run_dir):
    # The default prompt (question restated before "Answer:"): the untuned model is at chance on it, and the
    # fine-tune improves over several evaluations before it plateaus (~step 100), which selection must track.
    return [f"run_dir={run_dir}", f"init.from_pretrained={untuned_dir}", "tokenizer=null", "max_steps=400",
            f"eval.patience={PATIENCE}", f"finetune.train_json={FIXTURE / 'training.json'}",
            "finetune.repeat_question=true"]


def finetune_cmd(args) -> list[str]:
    return torchrun_cmd(2, REPO / TINY, args, script=LAUNCHER)


def finetune(args):
    proc = subprocess.Popen(finetune_cmd(args), cwd=REPO, env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-6000:]
    return out


@pytest.fixture(scope="module")
def run(untuned_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finetune")
    log = finetune(overrides(untuned_dir, run_dir))
    assert "init.from_pretrained" in log and "same tokenizer as the pretrained model" in log
    return run_dir


def dev_evals(run_dir) -> list[dict]:
    return [r for r in records(run_dir) if "dev_yesno_accuracy" in r]


def in_process_dev_eval(untuned_dir, model_dir) -> dict:
    """The model at ``model_dir`` through the same dev evaluation code and carved dev split, in this process."""
    from biomamba.finetune.build import resolve_tokenizer

    cfg = load_config(FinetuneConfig, REPO / TINY, overrides(untuned_dir, "/tmp/unused"))
    tokenizer = resolve_tokenizer(cfg)
    source = read_source(model_dir)
    model = MambaLM(source.config)
    model.load_state_dict(source.state_dict)
    data = build_finetune_data(cfg, tokenizer, ParallelDims(device=torch.device("cpu"), backend="gloo"))
    return data.dev_eval(model)


def test_finetuning_raises_dev_accuracy_above_the_untuned_model(run, untuned_dir):
    before = in_process_dev_eval(untuned_dir, untuned_dir)["dev_yesno_accuracy"]
    best = json.loads((run / "best.json").read_text())
    assert best["metric"] == "dev_yesno_accuracy"
    assert best["value"] >= 0.9 and best["value"] > before + 0.2, (before, best)
    assert max(e["dev_yesno_accuracy"] for e in dev_evals(run)) == best["value"]
    ls = losses(run)
    assert ls[max(ls)] < 0.1 * ls[1]


def test_best_checkpoint_is_kept_and_early_stopping_ends_the_run(run):
    best = json.loads((run / "best.json").read_text())
    ckpts = run / "checkpoints"
    latest = (ckpts / "latest").read_text().strip()
    tags = sorted(p.name for p in ckpts.glob("step_*"))
    assert (ckpts / best["tag"] / COMPLETE).is_file() and best["tag"] != latest
    assert tags == sorted({best["tag"], latest})  # keep_last=1, plus the pinned best
    evals = dev_evals(run)
    after_best = [e for e in evals if e["step"] > best["step"]]
    assert len(after_best) == PATIENCE and all(e["dev_yesno_accuracy"] <= best["value"] for e in after_best)
    events = [r for r in records(run) if "event" in r]
    stop = [e for e in events if e["event"] == "early_stop"]
    assert stop and stop[0]["best"] == best and stop[0]["step"] == evals[-1]["step"] < 400
    assert events[-1]["event"] == "done"


def test_throughput_counts_prompt_tokens_not_only_scored_ones(run):
    # The loss scores the answer only; tokens/s and MFU count every input token processed.
    steps = [r for r in records(run) if "tokens_per_s" in r]
    assert steps
    for r in steps:
        assert r["step_tokens"] > r["step_scored_tokens"] > 0
        assert r["tokens_per_s"] / r["scored_tokens_per_s"] == pytest.approx(r["step_tokens"] / r["step_scored_tokens"])


def test_kill9_and_resume_reproduce_the_run_exactly(run, untuned_dir, tmp_path):
    killed = kill9_at_step(finetune_cmd(overrides(untuned_dir, tmp_path)), tmp_path, 90)
    log = finetune(overrides(untuned_dir, tmp_path))
    assert f"resumed from {killed.latest}" in log
    assert_resumed(tmp_path, killed)
    assert losses(tmp_path) == losses(run)  # bitwise: same data order, same selection state
    assert {e["step"]: e["dev_yesno_accuracy"] for e in dev_evals(tmp_path)} == \
           {e["step"]: e["dev_yesno_accuracy"] for e in dev_evals(run)}
    assert (tmp_path / "best.json").read_text() == (run / "best.json").read_text()


def test_evaluate_compares_untuned_and_finetuned_models(run, untuned_dir, tmp_path):
    out = tmp_path / "report"
    cmd = [sys.executable, str(REPO / "launcher" / "evaluate.py"), "--models", str(untuned_dir), str(run),
           "--tasks", "bioasq", "lm", "--bioasq-gold", str(FIXTURE / "dev_golden.json"), "--no-ideal-answers",
           "--max-prompt-tokens", "88", "--max-exact-tokens", "8", "--device", "cpu", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"models", "config", "versions", "baselines", "comparisons", "bootstrap"}
    untuned, tuned = report["models"]
    best = json.loads((run / "best.json").read_text())
    assert tuned["model"] == str(run) and tuned["tag"] == best["tag"]  # the run means its selected checkpoint
    assert tuned["tokenizer"]["group"] == untuned["tokenizer"]["group"]  # same tokenizer: per-token comparable
    # held-out questions (the fixture's own dev set, never seen in training or selection)
    assert tuned["scores"]["bioasq.yesno_accuracy"] >= 0.9 > untuned["scores"]["bioasq.yesno_accuracy"] + 0.2
    for entry in report["models"]:
        scored = score_files(FIXTURE / "dev_golden.json", out / entry["submission"]).scores
        assert scored["yesno_accuracy"] == entry["scores"]["bioasq.yesno_accuracy"]
        assert entry["scores"]["lm.bioasq_snippets.bits_per_byte"] > 0
    assert (out / "report.png").stat().st_size > 0 and "compare directly" in (out / "report.md").read_text()
    # the official route: answer the test batch (no answers in it), then score against the golden file
    sub = tmp_path / "submission.json"
    answer = subprocess.run([sys.executable, "-m", "biomamba.eval.bioasq", "answer", "--model", str(run), "--questions",
                             str(FIXTURE / "dev.json"), "--out", str(sub), "--no-ideal-answers", "--max-prompt-tokens",
                             "88", "--device", "cpu"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert answer.returncode == 0, answer.stderr[-3000:]
    assert score_files(FIXTURE / "dev_golden.json", sub).scores["yesno_accuracy"] == \
           tuned["scores"]["bioasq.yesno_accuracy"]


def test_dev_evaluation_under_tensor_parallel_and_zero3_matches_a_plain_evaluation(untuned_dir, tmp_path):
    """TP=2 x ZeRO-3: the engine's dev evaluation (vocabulary slices gathered, every rank decoding in lockstep)
    gives what a plain single-process evaluation of the same (consolidated) weights gives."""
    finetune(overrides(untuned_dir, tmp_path) + ["max_steps=1", "eval.every_steps=1", "checkpoint.every_steps=1",
                                                 "parallel.tensor_parallel=2", "parallel.zero_stage=3",
                                                 "data.micro_batch_size=16"])
    logged = dev_evals(tmp_path)[0]
    plain = in_process_dev_eval(untuned_dir, tmp_path)
    assert logged["step"] == 1 and logged["dev_questions"] == plain["dev_questions"] == 26
    for key in ("dev_yesno_accuracy", "dev_yesno_macro_f1", "dev_loss", "dev_bpb"):
        assert logged[key] == pytest.approx(plain[key], rel=1e-5), key
