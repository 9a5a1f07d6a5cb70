"""The whole BioMamba chain in one command (the README's quickstart):

    python -m biomamba.pipeline --config configs/pipeline/quickstart.yaml [key=value ...]

PubMed XML → records → tokenizer → token shards (``data_prep``) → pretraining on N processes
(``launcher/train.py`` under torchrun or deepspeed) → Hugging Face export with logit
verification (``launcher/convert.py``) → evaluation report (``launcher/evaluate.py``) →
a summary table and a loss/perplexity plot. Each stage is the same command a cluster user
runs by hand (or through ``slurm/pipeline.sh``); stages whose outputs are complete are
skipped on a rerun, so an interrupted pipeline continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from biomamba.config import Config, ConfigError, add_config_arguments, config_from_args
from biomamba.io import atomic_write_text
from biomamba.rundir import RunDir
from biomamba.train.training_plot import plot_training

REPO = Path(__file__).resolve().parents[1]


@dataclass
class PipelineConfig(Config):
    work_dir: str = "runs/quickstart"
    data_config: str = "configs/data/sample.yaml"
    train_config: str = "configs/pretrain/tiny_sample.yaml"
    train_overrides: list[str] = field(default_factory=list)
    nproc: int = 2
    launcher: Literal["torchrun", "deepspeed"] = "torchrun"
    eval_gold: str = "biomamba/resources/sample/bioasq_sample.json"
    eval_tasks: list[str] = field(default_factory=lambda: ["bioasq", "lm"])
    # Compare against more models (HF or mamba_ssm directories) in the report.
    extra_models: list[str] = field(default_factory=list)
    skip_completed: bool = True

    def check(self) -> None:
        if self.nproc < 1:
            raise ConfigError("nproc: must be >= 1")
        for key in ("data_config", "train_config", "eval_gold"):
            if not (REPO / getattr(self, key)).exists() and not Path(getattr(self, key)).exists():
                raise ConfigError(f"{key}: {getattr(self, key)} does not exist")


@dataclass
class StageResult:
    name: str
    status: str
    seconds: float
    artifact: str


# glibc otherwise returns every large buffer to the OS and page-faults it back on the next
# step; keeping freed memory made CPU training steps ~1.3x faster here (see README).
CPU_MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "100000000000"}


def _run(name: str, cmd: list[str], log: Path, env: dict | None = None) -> None:
    """Run a stage, streaming its output to the console and to its log file."""
    print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            f.write(line)
            if _interesting(line):
                print(f"  {line.rstrip()}", flush=True)
        rc = proc.wait()
    if rc != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-40:])
        raise SystemExit(f"stage {name!r} failed (exit {rc}); log: {log}\n{tail}")


def _interesting(line: str) -> bool:
    noise = ("Warning", "warnings.warn", "[WARNING]", "[INFO]", "wandb:", "UserWarning", "FutureWarning", "*****",
             "OMP_NUM_THREADS", "return func(", "W1", "I1")
    return bool(line.strip()) and not any(n in line for n in noise)


def _python() -> str:
    return sys.executable


def _done(cfg: PipelineConfig, work: Path, stage: str, inputs: dict) -> bool:
    """True when ``stage`` already completed with exactly these inputs (its stamp file matches)."""
    stamp = work / ".stamps" / f"{stage}.json"
    return cfg.skip_completed and stamp.is_file() and json.loads(stamp.read_text()) == inputs


def _mark_done(work: Path, stage: str, inputs: dict) -> None:
    stamp = work / ".stamps" / f"{stage}.json"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps(inputs, sort_keys=True))


def decontamination_overrides(cfg: PipelineConfig) -> list[str]:
    """The evaluation set this pipeline reports on is removed from the training data (shipped sets already are)."""
    from biomamba.config import load_yaml
    from data_prep.stages.split.decontam import SHIPPED_EVAL_SETS

    gold = Path(cfg.eval_gold) if Path(cfg.eval_gold).exists() else REPO / cfg.eval_gold
    if str(gold.resolve()) in {str(Path(p).resolve()) for p in SHIPPED_EVAL_SETS["bioasq"]}:
        return []
    data_cfg = Path(cfg.data_config) if Path(cfg.data_config).exists() else REPO / cfg.data_config
    named = (load_yaml(data_cfg).get("split") or {}).get("exclude_bioasq") or []
    return [f"split.exclude_bioasq=[{', '.join([*named, str(gold.resolve())])}]"]


def stage_data(cfg: PipelineConfig, work: Path) -> str:
    out = work / "data"
    inputs = {"data_config": cfg.data_config, "exclude": decontamination_overrides(cfg)}
    if _done(cfg, work, "data", inputs) and (out / "shards" / "val" / "manifest.json").is_file():
        return "skipped (complete)"
    _run("data", [_python(), "-m", "data_prep", "run", "--config", cfg.data_config, f"out_dir={out}",
                  *inputs["exclude"]], work / "logs" / "data.log")
    _mark_done(work, "data", inputs)
    return str(out / "shards")


def train_overrides(cfg: PipelineConfig, work: Path) -> list[str]:
    data = work / "data"
    return [
        f"run_dir={work / 'train'}",
        f"tokenizer={data / 'tokenizer' / 'tokenizer.model'}",
        f"data.datasets.0.path={data / 'shards' / 'train'}",
        f"data.val_path={data / 'shards' / 'val'}",
        *cfg.train_overrides,
    ]


def stage_train(cfg: PipelineConfig, work: Path) -> str:
    run = work / "train"
    inputs = {"train_config": cfg.train_config, "overrides": train_overrides(cfg, work), "nproc": cfg.nproc}
    if _done(cfg, work, "train", inputs):
        return "skipped (complete)"
    # Otherwise (first run, interrupted run, or changed overrides such as a larger max_steps) the
    # trainer resumes from the run's latest checkpoint by itself.
    script = str(REPO / "launcher" / "train.py")
    args = ["--config", cfg.train_config, *train_overrides(cfg, work)]
    if cfg.launcher == "deepspeed":
        cmd = ["deepspeed", f"--num_gpus={cfg.nproc}", script, *args]
    else:
        cmd = [_python(), "-m", "torch.distributed.run", f"--nproc_per_node={cfg.nproc}", script, *args]
    env = {"OMP_NUM_THREADS": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"), **CPU_MALLOC_ENV}
    _run("pretrain", cmd, work / "logs" / "train.log", env)
    _mark_done(work, "train", inputs)
    return str(run)


def stage_convert(cfg: PipelineConfig, work: Path) -> str:
    out = work / "hf"
    latest = RunDir(work / "train").latest
    inputs = {"checkpoint": latest.read_text().strip() if latest.is_file() else None}
    if _done(cfg, work, "convert", inputs) and (out / "config.json").is_file():
        return "skipped (complete)"
    tok = work / "data" / "tokenizer" / "tokenizer.model"
    _run("convert", [_python(), str(REPO / "launcher" / "convert.py"), str(work / "train"), "--to", "hf",
                     "--out", str(out), "--tokenizer", str(tok), "--verify", "--overwrite"], work / "logs" / "convert.log")
    _mark_done(work, "convert", inputs)
    return str(out)


def stage_evaluate(cfg: PipelineConfig, work: Path) -> str:
    out = work / "eval"
    cmd = [_python(), str(REPO / "launcher" / "evaluate.py"), "--models", str(work / "hf"), *cfg.extra_models,
           "--tasks", *cfg.eval_tasks, "--bioasq-gold", cfg.eval_gold,
           "--heldout", str(work / "data" / "split" / "test"), "--out", str(out)]
    _run("evaluate", cmd, work / "logs" / "evaluate.log")
    return str(out)


def summarize(work: Path, results: list[StageResult]) -> str:
    from rich.console import Console
    from rich.table import Table

    recs = [json.loads(line) for line in RunDir(work / "train").metrics.read_text().splitlines()]
    losses = [(r["step"], r["loss"]) for r in recs if "loss" in r]
    evals = [r for r in recs if "val_loss" in r]
    t = Table(title=f"BioMamba pipeline — {work}")
    for col in ("stage", "status", "time", "output"):
        t.add_column(col)
    for r in results:
        t.add_row(r.name, r.status, f"{r.seconds:.0f} s", r.artifact)
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(t)
    m = Table(title="Results")
    m.add_column("metric", no_wrap=True)
    m.add_column("value", no_wrap=True)
    if losses:
        m.add_row("training loss, first → last step", f"{losses[0][1]:.3f} (step {losses[0][0]}) → {losses[-1][1]:.3f} (step {losses[-1][0]})")
    if evals:
        e = evals[-1]
        m.add_row("validation loss / perplexity / bits per byte", f"{e['val_loss']:.3f} / {e['val_ppl']:.2f} / {e['val_bpb']:.3f}")
    report = work / "eval" / "report.json"
    if report.is_file():
        data = json.loads(report.read_text())
        for model in data.get("models", []):
            for key, value in sorted(model.get("scores", {}).items()):
                ci = model.get("metrics", {}).get(key, {})
                if isinstance(value, (int, float)):
                    text = f"{value:.4g}"
                    if ci.get("ci_low") is not None:
                        text += f" [{ci['ci_low']:.3g}, {ci['ci_high']:.3g}]"
                    m.add_row(f"{model.get('name') or Path(model['model']).name}: {key}",
                              f"contaminated ({text})" if ci.get("contaminated") else text)
    console.print(m)
    return f"{len(losses)} training steps"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(p, default_config=str(REPO / "configs" / "pipeline" / "quickstart.yaml"))
    cfg = config_from_args(PipelineConfig, p.parse_args(argv))
    work = Path(cfg.work_dir)
    if not work.is_absolute():
        work = REPO / work
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(work / "pipeline.yaml", cfg.to_yaml())
    results = []
    t_all = time.perf_counter()
    for name, fn in (("data", stage_data), ("pretrain", stage_train), ("convert", stage_convert), ("evaluate", stage_evaluate)):
        t0 = time.perf_counter()
        artifact = fn(cfg, work)
        status = "skipped" if artifact.startswith("skipped") else "done"
        results.append(StageResult(name, status, time.perf_counter() - t0, artifact))
    plot = plot_training(work / "train", work / "plots" / "training.png")
    results.append(StageResult("plot", "done", 0.0, str(plot)))
    summarize(work, results)
    print(f"\nloss / perplexity plot: {plot}\nevaluation report: {work / 'eval'}\n"
          f"total time: {time.perf_counter() - t_all:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
