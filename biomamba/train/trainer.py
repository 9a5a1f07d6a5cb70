"""The training loop: read it top to bottom in :func:`train`.

The engine (:mod:`.engine`: DeepSpeed, resume, checkpoints) and one optimizer step
(:func:`.step.train_step`) live beside it; here are only the order of things, the logs,
evaluation with model selection, preemption and the non-finite-loss policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from biomamba.config import ConfigError
from biomamba.eval.lm_stats import perplexity
from biomamba.io import atomic_write_json, atomic_write_text, package_versions
from biomamba.model.flops import flops_per_token
from biomamba.ops import kernel_report
from biomamba.parallel import TP_PACKAGES, ParallelDims
from biomamba.rundir import RunDir

from .config import TrainConfig
from .engine import Engine, setup_engine
from .evaluation import evaluate
from .metrics import MetricsLogger, device_peak_tflops, memory_stats, throughput_record
from .preemption import REQUEUE_EXIT_CODE, PreemptionFlag
from .selection import patience_exhausted, update_selection, write_best
from .step import StepResult, train_step


class NonFiniteLossError(RuntimeError):
    pass


def write_run_files(cfg: TrainConfig, dims: ParallelDims) -> dict:
    run_dir = RunDir(cfg.run_dir)
    versions = package_versions(("biomamba", "torch", "deepspeed", *TP_PACKAGES, "webdataset", "numpy", "wandb"),
                                with_git=True)
    # which scan/conv really runs
    versions["kernels"] = kernel_report(cfg.model.scan_impl, dims.device, cfg.model.kernel_impl)
    if dims.is_main:
        print("[biomamba] kernels: " + " ".join(f"{k}={v}" for k, v in versions["kernels"].items()), flush=True)
        run_dir.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir.config, cfg.to_yaml())
        atomic_write_json(run_dir.versions, versions)
    return versions


def train(cfg: TrainConfig, dims: ParallelDims, model, train_data, val_data_factory=None,
          tokenizer_hash: str | None = None, dev_eval: Callable[[torch.nn.Module], dict] | None = None) -> int:
    """Train until ``cfg.max_steps`` (or early stop); returns the process exit code (0 done, 75 requeue).

    ``dev_eval(model)`` -- e.g. fine-tuning's task scores on a dev split -- runs with the validation
    loss at every evaluation, on ALL ranks (tensor-parallel and ZeRO-3 forwards are collective);
    rank 0's metrics are logged and can drive model selection (``cfg.eval.select_metric``).
    """
    if cfg.eval.select_metric and val_data_factory is None and dev_eval is None:
        raise ConfigError(f"eval.select_metric={cfg.eval.select_metric}: this run evaluates nothing; "
                          "set data.val_path or remove eval.select_metric")
    versions = write_run_files(cfg, dims)
    engine = setup_engine(cfg, dims, model, train_data, tokenizer_hash, versions)
    state = engine.state
    logger = MetricsLogger(Path(cfg.run_dir), dims.is_main, cfg.wandb,
                           {**cfg.to_dict(), "kernels": versions["kernels"]}, state.wandb_run_id)
    state.wandb_run_id = logger.run_id

    preempt = PreemptionFlag()
    speed = (flops_per_token(cfg.model), device_peak_tflops(cfg.peak_tflops))
    batches = iter(train_data)
    consecutive_bad = 0
    engine.ds.train()
    while state.step < cfg.max_steps and not patience_exhausted(state, cfg.eval):
        t_start = time.perf_counter()
        micro_batches = _next_micro_batches(batches, engine.ga)
        if micro_batches is None:
            if dims.is_main:
                print("[biomamba] training data exhausted (data.max_tokens / epochs); stopping", flush=True)
            break
        t_data = time.perf_counter() - t_start
        log_now = (state.step + 1) % cfg.log_every == 0 or state.step == 0
        result = train_step(engine, micro_batches, grad_norm=log_now)
        state.step += 1
        if not result.finite:
            consecutive_bad = _skipped(engine, logger, consecutive_bad + 1)  # raises at the limit
        else:
            consecutive_bad = 0
            state.tokens_seen += int(result.tokens)
            if log_now:
                _log_step(engine, logger, result, t_data, speed)

        if preempt.any_rank():
            tag = engine.save()
            logger.log({"step": state.step, "event": "preempted", "checkpoint": tag},
                       f"[biomamba] signal received: saved {tag}; exiting {REQUEUE_EXIT_CODE} for requeue")
            logger.close()
            return REQUEUE_EXIT_CODE
        eval_due = cfg.eval.every_steps and state.step % cfg.eval.every_steps == 0
        improved = _evaluate_and_select(engine, logger, val_data_factory, dev_eval) if eval_due else False
        if improved or state.step % cfg.checkpoint.every_steps == 0 or state.step == cfg.max_steps:
            tag = engine.save()
            logger.log({"step": state.step, "event": "checkpoint", "checkpoint": tag})

    improved = False
    if cfg.eval.at_end and not (cfg.eval.every_steps and state.step % cfg.eval.every_steps == 0):
        improved = _evaluate_and_select(engine, logger, val_data_factory, dev_eval)
    if engine.saved_step != state.step:
        engine.save()
    elif improved and dims.is_main:
        write_best(Path(cfg.run_dir), state.best)  # this step's checkpoint is already complete
    _log_end(engine, logger)
    return 0


def _next_micro_batches(batches: Iterator[dict], ga: int) -> list[dict] | None:
    """The ``ga`` micro-batches of the next step, or None when the data is exhausted."""
    try:
        return [next(batches) for _ in range(ga)]
    except StopIteration:
        return None


def _skipped(engine: Engine, logger: MetricsLogger, in_a_row: int) -> int:
    """Count and log a step whose update was skipped (non-finite loss); stop after too many in a row."""
    state = engine.state
    state.skipped_steps += 1
    logger.log({"step": state.step, "skipped_nonfinite": state.skipped_steps},
               f"step {state.step}: non-finite loss, update skipped ({in_a_row} in a row)")
    if in_a_row >= engine.cfg.max_consecutive_nonfinite:
        raise NonFiniteLossError(
            f"{in_a_row} consecutive steps had NaN/Inf loss (step {state.step}); lower optim.lr, "
            "check the data, or resume from an earlier checkpoint")
    return in_a_row


def _log_step(engine: Engine, logger: MetricsLogger, r: StepResult, t_data: float, speed: tuple) -> None:
    state, dims = engine.state, engine.dims
    fpt, peak = speed
    rec = {
        "step": state.step, "loss": r.loss, "ppl": perplexity(r.loss), "lr": engine.lr,
        "grad_norm": r.grad_norm, "tokens_seen": state.tokens_seen,
        **throughput_record(r.inputs, r.tokens, t_data + r.time_compute_s, dims.world_size, fpt, peak),
        "time_data_s": t_data, "time_compute_s": r.time_compute_s,
        "time_fwd_bwd_s": r.time_fwd_bwd_s, "time_optimizer_s": r.time_optimizer_s,
        **memory_stats(dims.device),
    }
    logger.log(rec, f"step {state.step:>6d} | loss {r.loss:.4f} | lr {rec['lr']:.2e} | "
                    f"gnorm {rec['grad_norm']:.3f} | {rec['tokens_per_s']:,.0f} tok/s"
                    + (f" | MFU {rec['mfu']:.1%}" if peak else ""))


def _evaluate_and_select(engine: Engine, logger: MetricsLogger, val_data_factory, dev_eval) -> bool:
    """Validation loss and/or ``dev_eval``; True if the selection metric improved (save this step)."""
    cfg, state = engine.cfg, engine.state
    m = {}
    if val_data_factory is not None:
        m.update(evaluate(engine.module, val_data_factory(), engine.dims, cfg.eval.max_batches, engine.autocast_dtype))
    if dev_eval is not None:
        m.update(dev_eval(engine.module))
    if not m:
        return False
    improved = update_selection(state, m, cfg.eval)
    console = f"eval step {state.step}: " + " ".join(
        f"{k} {m[k]:.4f}" for k in ("val_loss", "val_ppl", "val_bpb", cfg.eval.select_metric) if k in m)
    logger.log({"step": state.step, **m, **({"best": state.best} if cfg.eval.select_metric else {})},
               console + (" (best so far)" if improved else ""))
    return improved


def _log_end(engine: Engine, logger: MetricsLogger) -> None:
    cfg, state = engine.cfg, engine.state
    if patience_exhausted(state, cfg.eval):
        logger.log({"step": state.step, "event": "early_stop", "best": state.best,
                    "evals_since_best": state.evals_since_best},
                   f"[biomamba] early stop: {state.evals_since_best} evaluations without improving "
                   f"{cfg.eval.select_metric}; best {state.best}")
    logger.log({"step": state.step, "event": "done", "tokens_seen": state.tokens_seen,
                "skipped_steps": state.skipped_steps})
    logger.close()
