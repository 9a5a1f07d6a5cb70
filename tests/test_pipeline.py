"""The README's main job (biomamba.pipeline) on the embedded sample, with fewer steps.

Asserts that every stage's artifact exists and that the pretraining loss fell.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def test_quickstart_pipeline_end_to_end(tmp_path):
    work = tmp_path / "qs"
    cmd = [sys.executable, "-m", "biomamba.pipeline", "--config", str(REPO_ROOT / "configs/pipeline/quickstart.yaml"),
           f"work_dir={work}",
           "train_overrides=[max_steps=40, data.micro_batch_size=4, eval.every_steps=20, checkpoint.every_steps=20, "
           "model.n_layer=2, model.d_model=128]"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=1500,
                          env={**__import__("os").environ, "WANDB_MODE": "offline"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # data
    for split in ("train", "val", "test"):
        assert (work / "data" / "shards" / split / "manifest.json").is_file()
    assert (work / "data" / "tokenizer" / "tokenizer.model").is_file()
    # pretraining
    recs = [json.loads(line) for line in (work / "train" / "metrics.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"] for r in recs if "loss" in r}
    assert max(losses) == 40 and losses[40] < losses[1] - 1.0
    assert (work / "train" / "checkpoints" / "latest").read_text().strip() == "step_00000040"
    # export + evaluation + plot
    assert (work / "hf" / "config.json").is_file() and (work / "hf" / "model.safetensors").is_file()
    report = json.loads((work / "eval" / "report.json").read_text())
    assert report["models"] and report["models"][0]["scores"]
    # issue 18: every metric with a 95 % interval and its n, baseline rows on the same questions, a run name
    model = report["models"][0]
    for metric, ci in model["metrics"].items():
        assert ci["ci_low"] <= ci["value"] <= ci["ci_high"] and ci["n"] > 0, metric
    assert {b["name"] for b in report["baselines"]} >= {'constant "yes"', 'constant "no"'}
    assert model["name"].startswith("mamba-") and model["name"].endswith("step 40")
    md = (work / "eval" / "report.md").read_text()
    assert "## Against chance and majority baselines" in md and '*baseline: bioasq constant "yes"*' in md
    # issue 14: the bundled evaluation set was removed from the training data, and the report knows it
    assert model["contamination"]["bioasq"]["status"] == "clean" and "contaminated (" not in md
    evaluated = sum(model["seconds"].values())
    print(f"bootstrap {report['bootstrap']['seconds']:.2f} s of evaluation {evaluated:.1f} s")
    assert (work / "eval" / "report.md").is_file() and (work / "eval" / "report.png").is_file()
    assert (work / "plots" / "training.png").stat().st_size > 1000
    assert "loss / perplexity plot" in proc.stdout
    # a rerun skips every completed stage
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert again.returncode == 0 and again.stdout.count("skipped") >= 3, again.stdout[-3000:]
    # more steps: pretraining resumes from its checkpoint and continues, the export follows
    longer = [c.replace("max_steps=40", "max_steps=44") for c in cmd]
    more = subprocess.run(longer, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert more.returncode == 0, more.stdout[-3000:] + more.stderr[-3000:]
    recs = [json.loads(line) for line in (work / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r.get("event") == "done"] == [40, 44]
    assert "resumed from step_00000040" in (work / "logs" / "train.log").read_text()
    assert json.loads((work / ".stamps" / "convert.json").read_text())["checkpoint"] == "step_00000044"
