"""The training loop: read it top to bottom in :func:`train`.

Everything that resumes — model, optimizer, LR schedule (DeepSpeed), data-loader position,
counters and RNG states (ours) — is one checkpoint tag (see :mod:`.checkpoint`).
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import torch

from biomamba.config import ConfigError
from biomamba.data.format import atomic_write_json, package_versions
from biomamba.model.flops import flops_per_token
from biomamba.ops import kernel_report

from .checkpoint import CheckpointManager, TrainState, requested_resume_tag
from .config import TrainConfig
from .deepspeed_config import initialize_engine
from .distributed import Runtime, all_reduce_sum, collective_cpu
from .evaluation import evaluate
from .loss import token_nll
from .metrics import MetricsLogger, device_peak_tflops, input_tokens, memory_stats, throughput_record
from .optim import build_optimizer
from .preemption import REQUEUE_EXIT_CODE, PreemptionFlag
from .schedule import build_scheduler
from .selection import patience_exhausted, update_selection, write_best


class NonFiniteLossError(RuntimeError):
    pass


@contextlib.contextmanager
def _skip_update(optimizer: torch.optim.Optimizer, scheduler):
    """Make the next ``engine.step()`` leave parameters, Adam moments and the LR schedule untouched.

    DeepSpeed has no public "skip this step" outside fp16 loss scaling; every ZeRO stage
    ends its step by calling our torch optimizer's ``step()`` on the fp32 (partitioned)
    parameters and copying them back, then calls the LR scheduler's ``step()``. Replacing
    both with no-ops skips the update cleanly while DeepSpeed's counters and gradient
    buffers stay consistent. The schedule does not advance: a skipped step trained nothing,
    so the next real update gets the lr the skipped one would have had (warmup and decay
    are counted in updates applied, and a run with skips ends short of the final lr by
    the number of skipped steps, which the log records as ``skipped_nonfinite``).
    """
    original = optimizer.step
    optimizer.step = lambda *a, **k: None
    scheduler.step = lambda *a, **k: None  # an instance attribute shadowing the class's method...
    try:
        yield
    finally:
        optimizer.step = original
        del scheduler.step  # ...removed again: the scheduler's state_dict() pickles its __dict__


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except Exception:
        return None


def write_run_files(cfg: TrainConfig, rt: Runtime) -> dict:
    run_dir = Path(cfg.run_dir)
    versions = package_versions(("biomamba", "torch", "deepspeed", "megatron-core", "webdataset", "numpy", "wandb"))
    versions["git_commit"] = _git_commit()
    versions["kernels"] = kernel_report(cfg.model.scan_impl, rt.device, cfg.model.kernel_impl)  # which scan/conv really runs
    if rt.is_main:
        print("[biomamba] kernels: " + " ".join(f"{k}={v}" for k, v in versions["kernels"].items()), flush=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(cfg.to_yaml())
        atomic_write_json(run_dir / "versions.json", versions)
    return versions


def train(cfg: TrainConfig, rt: Runtime, model, train_data, val_data_factory=None, tokenizer_hash: str | None = None,
          dev_eval: Callable[[torch.nn.Module], dict] | None = None) -> int:
    """Train until ``cfg.max_steps`` (or early stop); returns the process exit code (0 done, 75 requeue).

    ``dev_eval(model)`` -- e.g. fine-tuning's task scores on a dev split -- runs with the validation
    loss at every evaluation, on ALL ranks (tensor-parallel and ZeRO-3 forwards are collective);
    rank 0's metrics are logged and can drive model selection (``cfg.eval.select_metric``).
    """

    if cfg.eval.select_metric and val_data_factory is None and dev_eval is None:
        raise ConfigError(f"eval.select_metric={cfg.eval.select_metric}: this run evaluates nothing; "
                          "set data.val_path or remove eval.select_metric")

    from megatron.core import parallel_state as ps

    run_dir = Path(cfg.run_dir)
    versions = write_run_files(cfg, rt)
    ga = cfg.parallel.gradient_accumulation_steps
    autocast_dtype = torch.bfloat16 if cfg.parallel.precision == "bf16" else None

    # ---- engine: DeepSpeed over the data-parallel group (ZeRO shards across DP only) ----
    optimizer = build_optimizer(model, cfg.optim, rt.device.type)
    scheduler = build_scheduler(optimizer, cfg.max_steps, cfg.schedule, cfg.optim.min_lr_ratio)

    # ---- resume plan (needed before the engine: a DP-size change loads a universal checkpoint) ----
    ckpt = CheckpointManager(run_dir, cfg.checkpoint.keep_last, rt.rank, cfg.checkpoint.universal_workers,
                             cfg.checkpoint.universal_timeout_s)
    state = TrainState()
    resume_tag = requested_resume_tag(run_dir, cfg.checkpoint.resume)
    plan = ckpt.plan_resume(resume_tag, {"tp": rt.tp_size, "dp": rt.dp_size}) if resume_tag else None
    engine = initialize_engine(cfg, rt.dp_size, model, optimizer, scheduler,
                               load_universal=bool(plan and plan["universal"]))

    # ---- resume ----
    if plan:
        state, loader_state, meta = ckpt.load(engine, plan)
        # Some DeepSpeed restore paths (universal, elastic) bring back the Adam moments but not the param
        # groups' current lr; the restored scheduler state has it, so re-apply it before the next step.
        for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr()):
            group["lr"] = lr
        changed = plan["layout_changed"]
        if changed and rt.is_main:
            print(f"[biomamba] data-parallel size changed since {resume_tag} ({meta['layout']['dp']} -> {rt.dp_size}): "
                  "model and optimizer resumed exactly; the data continues at the saved global sample position",
                  flush=True)
        if loader_state is not None:
            train_data.load_state_dict(loader_state, allow_mismatch=cfg.checkpoint.allow_loader_mismatch)
        if tokenizer_hash and meta.get("tokenizer_hash") not in (None, tokenizer_hash):
            raise RuntimeError(f"tokenizer changed since checkpoint {resume_tag}: {meta.get('tokenizer_hash')} != {tokenizer_hash}")
        if rt.is_main:
            print(f"[biomamba] resumed from {resume_tag}: step {state.step}, {state.tokens_seen:,} tokens", flush=True)

    # ---- monitoring ----
    logger = MetricsLogger(run_dir, rt.is_main, cfg.wandb, {**cfg.to_dict(), "kernels": versions["kernels"]},
                           state.wandb_run_id)
    state.wandb_run_id = logger.run_id
    fpt = flops_per_token(cfg.model)
    peak = device_peak_tflops(cfg.peak_tflops)
    preempt = PreemptionFlag()
    dp_group = ps.get_data_parallel_group()
    meta = {"config": cfg.to_dict(), "versions": versions, "tokenizer_hash": tokenizer_hash,
            "layout": {"world_size": rt.world_size, "tp": rt.tp_size, "dp": rt.dp_size, "zero_stage": cfg.parallel.zero_stage}}

    saved_step = state.step if plan else -1

    def save():
        nonlocal saved_step
        ckpt.pinned = state.best["tag"] if state.best else None  # model selection's best is never pruned
        tag = ckpt.save(engine, state, train_data.state_dict(), meta)
        saved_step = state.step
        if rt.is_main and state.best:
            write_best(run_dir, state.best)  # only ever names a complete checkpoint
        return tag

    def evaluate_and_select() -> bool:
        """Validation loss and/or ``dev_eval``; True if the selection metric improved (save this step)."""
        m = {}
        if val_data_factory is not None:
            m.update(evaluate(engine.module, val_data_factory(), rt.device, rt.tp_size, dp_group, cfg.eval.max_batches,
                              autocast_dtype))
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

    # Fault injection for tests and drills: BIOMAMBA_INJECT_NONFINITE_STEPS=3,4 makes those steps' loss NaN.
    inject = {int(x) for x in os.environ.get("BIOMAMBA_INJECT_NONFINITE_STEPS", "").split(",") if x.strip()}

    # ---- the loop ----
    data_iter = iter(train_data)
    consecutive_bad = 0
    engine.train()
    while state.step < cfg.max_steps and not patience_exhausted(state, cfg.eval):
        t_start = time.perf_counter()
        try:
            micro_batches = [next(data_iter) for _ in range(ga)]
        except StopIteration:
            if rt.is_main:
                print("[biomamba] training data exhausted (data.max_tokens / epochs); stopping", flush=True)
            break
        t_data = time.perf_counter()

        # Normalize by the tokens of the whole global batch, so the gradient is the mean over all
        # scored tokens whatever the split into micro-batches and DP ranks (DeepSpeed divides by
        # ga and averages over DP; the factor ga*dp undoes that).
        # One collective for both counts: scored tokens (the loss normalizer) and input tokens processed
        # (prompts that fine-tuning masks included), which tokens/s and MFU count.
        local = [sum(int((mb["labels"] != -100).sum()) for mb in micro_batches),
                 sum(input_tokens(mb) for mb in micro_batches)]
        global_tokens, global_inputs = collective_cpu(torch.tensor(local, dtype=torch.float64), group=dp_group).tolist()
        scale = ga * rt.dp_size / max(global_tokens, 1.0)

        nll_sum, finite, zero0_norm = 0.0, True, float("nan")
        log_now = (state.step + 1) % cfg.log_every == 0 or state.step == 0
        t_fwd_bwd = t_optim = 0.0  # step-time breakdown (CPU clock; on GPU these include queued kernels)
        for mb in micro_batches:
            t0 = time.perf_counter()
            ids, labels = mb["input_ids"].to(rt.device), mb["labels"].to(rt.device)
            logits = engine(ids)  # DeepSpeed enters torch.autocast itself when precision is bf16
            nll, _ = token_nll(logits, labels, rt.tp_size)
            del logits
            loss = nll.sum() * scale
            if state.step + 1 in inject:
                loss = loss * float("nan")
            ok = all_reduce_sum(0.0 if torch.isfinite(loss) else 1.0) == 0.0  # every rank decides the same
            if not ok:
                finite = False
                # Keep DeepSpeed's micro-step bookkeeping intact with a zero gradient instead of NaNs.
                loss = sum(p.sum() for p in engine.module.parameters() if p.requires_grad) * 0.0
            else:
                nll_sum += float(nll.detach().sum())
            engine.backward(loss)
            if log_now and cfg.parallel.zero_stage == 0 and engine.is_gradient_accumulation_boundary():
                zero0_norm = _tp_grad_norm(engine.module)  # DeepSpeed records no norm without ZeRO
            t1 = time.perf_counter()
            if finite or not engine.is_gradient_accumulation_boundary():
                engine.step()
            else:
                with _skip_update(optimizer, scheduler):
                    engine.step()
            t2 = time.perf_counter()
            t_fwd_bwd += t1 - t0
            t_optim += t2 - t1
        t_compute = time.perf_counter()

        state.step += 1
        if not finite:
            state.skipped_steps += 1
            consecutive_bad += 1
            logger.log({"step": state.step, "skipped_nonfinite": state.skipped_steps},
                       f"step {state.step}: non-finite loss, update skipped ({consecutive_bad} in a row)")
            if consecutive_bad >= cfg.max_consecutive_nonfinite:
                raise NonFiniteLossError(
                    f"{consecutive_bad} consecutive steps had NaN/Inf loss (step {state.step}); lower optim.lr, "
                    "check the data, or resume from an earlier checkpoint"
                )
        else:
            consecutive_bad = 0
            state.tokens_seen += int(global_tokens)
            loss_mean = all_reduce_sum(nll_sum, dp_group) / max(global_tokens, 1.0)
            if log_now:
                rec = {
                    "step": state.step, "loss": loss_mean, "ppl": math.exp(min(loss_mean, 50.0)),
                    "lr": scheduler.get_last_lr()[0],
                    "grad_norm": zero0_norm if cfg.parallel.zero_stage == 0 else _grad_norm(engine),
                    "tokens_seen": state.tokens_seen,
                    **throughput_record(global_inputs, global_tokens, t_compute - t_start, rt.world_size, fpt, peak),
                    "time_data_s": t_data - t_start, "time_compute_s": t_compute - t_data,
                    "time_fwd_bwd_s": t_fwd_bwd, "time_optimizer_s": t_optim,
                    **memory_stats(rt.device),
                }
                logger.log(rec, f"step {state.step:>6d} | loss {loss_mean:.4f} | lr {rec['lr']:.2e} | "
                                f"gnorm {rec['grad_norm']:.3f} | {rec['tokens_per_s']:,.0f} tok/s"
                                + (f" | MFU {rec['mfu']:.1%}" if peak else ""))

        if preempt.any_rank():
            tag = save()
            logger.log({"step": state.step, "event": "preempted", "checkpoint": tag},
                       f"[biomamba] signal received: saved {tag}; exiting {REQUEUE_EXIT_CODE} for requeue")
            logger.close()
            return REQUEUE_EXIT_CODE
        eval_due = cfg.eval.every_steps and state.step % cfg.eval.every_steps == 0
        improved = evaluate_and_select() if eval_due else False
        if improved or state.step % cfg.checkpoint.every_steps == 0 or state.step == cfg.max_steps:
            tag = save()
            logger.log({"step": state.step, "event": "checkpoint", "checkpoint": tag})

    improved = False
    if cfg.eval.at_end and not (cfg.eval.every_steps and state.step % cfg.eval.every_steps == 0):
        improved = evaluate_and_select()
    if saved_step != state.step:
        save()
    elif improved and rt.is_main:
        write_best(run_dir, state.best)  # this step's checkpoint is already complete
    if patience_exhausted(state, cfg.eval):
        logger.log({"step": state.step, "event": "early_stop", "best": state.best,
                    "evals_since_best": state.evals_since_best},
                   f"[biomamba] early stop: {state.evals_since_best} evaluations without improving "
                   f"{cfg.eval.select_metric}; best {state.best}")
    logger.log({"step": state.step, "event": "done", "tokens_seen": state.tokens_seen, "skipped_steps": state.skipped_steps})
    logger.close()
    return 0


def _tp_grad_norm(model) -> float:
    """Global L2 norm of the (already data-parallel-reduced) gradients, counting each TP-sharded
    parameter on every TP rank and each replicated one once — DeepSpeed's own rule, which it only
    records under ZeRO."""
    from megatron.core import parallel_state as ps

    tp_rank = ps.get_tensor_model_parallel_rank()
    sq = torch.zeros(1, dtype=torch.float64)
    for p in {id(p): p for p in model.parameters()}.values():
        if p.grad is not None and (getattr(p, "tensor_model_parallel", False) or tp_rank == 0):
            sq += p.grad.detach().double().pow(2).sum().cpu()
    if ps.get_tensor_model_parallel_world_size() > 1:
        sq = collective_cpu(sq, group=ps.get_tensor_model_parallel_group())
    return float(sq.sqrt())


def _grad_norm(engine) -> float:
    g = engine.get_global_grad_norm()
    if g is None:
        return float("nan")
    return float(g.item() if torch.is_tensor(g) else g)
