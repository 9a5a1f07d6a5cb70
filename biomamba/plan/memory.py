"""Per-GPU memory of a training configuration: model states + one micro-batch's activations + a reserve.

The activation peak is the largest of three moments of a step (``A`` = all blocks'
saved tensors, ``H`` = head and loss saved tensors, ``G`` = logits held by the loop,
``X`` = loss-backward gradient buffers, ``S`` = one block's saved tensors,
``W`` = one block's backward workspace, taken equal to ``S`` — gradients of
what a block saved are the same size — ``C`` = autocast's cached weight casts,
``I`` = checkpointed block inputs):

===========================  ========================  =====================
moment                       no checkpointing          per-block checkpointing
===========================  ========================  =====================
forward ends (autocast on)   A + C_unsaved + H' + G    I + C_all + H' + G
loss backward                A + H + G + X             I + H + G + X
last block's backward        A + G + W                 I + G + S + W
===========================  ========================  =====================

(``H'`` = ``H`` without the loss's tensors, which do not exist yet.) Everything
is counted as resident at once with the gradients and DeepSpeed buffers, which
is exact for the ZeRO-1 gradients and conservative otherwise.

With ``loss_chunk_tokens`` (training's ``parallel.loss_chunk_tokens``, :mod:`biomamba.ops.xent`) the
vocabulary-sized terms (``G``, ``X`` and the log-probabilities in ``H``) are those of one chunk of
positions: the head runs, and is recomputed in the backward, one chunk at a time.
"""

from __future__ import annotations

from biomamba.model.config import MambaConfig

from . import activations as act
from .inventory import check_tp, inventory, local_param_count
from .states import REDUCE_BUCKET_SIZE, model_state_bytes

GIB = 2**30
DEFAULT_RESERVE_GB = 4.0  # CUDA context + cuBLAS/NCCL workspaces (~1-1.5 GiB) + allocator fragmentation


def activation_memory(cfg: MambaConfig, *, micro_batch: int, seq: int, tp: int = 1, precision: str = "bf16",
                      activation_checkpointing: bool = False, backend: str = "cuda",
                      loss_chunk_tokens: int = 0) -> dict:
    """Peak activation bytes of one micro-batch on one GPU, with the terms it is made of.

    Keys: ``peak`` (bytes), ``moment`` (which row of the module table is largest),
    ``saved`` (bytes autograd holds when the loss is computed: blocks or their checkpointed
    inputs + head + loss), ``per_layer`` / ``head`` (lists of :class:`~.activations.Term`),
    ``layer_bytes``, ``head_bytes``, ``logits_bytes``, ``loss_backward_bytes``,
    ``checkpoint_inputs_bytes``, ``weight_cast_bytes`` (all blocks' bf16 weight copies).
    """
    if micro_batch < 0 or seq < 1:
        raise ValueError(f"micro_batch must be >= 0 and seq >= 1, got {micro_batch}, {seq}")
    check_tp(cfg, tp)
    kw = {"tp": tp, "precision": precision}
    loss_L = loss_chunk_tokens if 0 < loss_chunk_tokens < seq else seq
    layer = act.layer_saved(cfg, micro_batch, seq, backend=backend, **kw)
    head = act.head_saved(cfg, micro_batch, seq, backend=backend, loss_L=loss_L, **kw)
    head_model = act.head_saved(cfg, micro_batch, seq, backend=backend, with_loss=False, **kw)
    casts = act.weight_casts(cfg, backend=backend, **kw)
    n = cfg.n_layer
    S = sum(t.bytes for t in layer)
    H, H_fwd = sum(t.bytes for t in head), sum(t.bytes for t in head_model)
    G = act.logits_held_bytes(cfg, micro_batch, loss_L, **kw)
    X = act.loss_backward_bytes(cfg, micro_batch, loss_L, **kw)
    C_all = n * sum(t.bytes for t, _ in casts)
    C_unsaved = n * sum(t.bytes for t, saved in casts if not saved)
    I = act.checkpoint_input_bytes(cfg, micro_batch, seq, precision=precision)
    if activation_checkpointing:
        moments = {"forward end": I + C_all + H_fwd + G, "loss backward": I + H + G + X,
                   "last block backward": I + G + 2 * S}
        saved = I + H
    else:
        A = n * S
        moments = {"forward end": A + C_unsaved + H_fwd + G, "loss backward": A + H + G + X,
                   "last block backward": A + G + S}
        saved = A + H
    moment = max(moments, key=moments.get)
    return {"peak": moments[moment], "moment": moment, "moments": moments, "saved": saved,
            "per_layer": layer, "head": head, "layer_bytes": S, "head_bytes": H, "logits_bytes": G,
            "loss_backward_bytes": X, "checkpoint_inputs_bytes": I, "weight_cast_bytes": C_all}


def plan_memory(cfg: MambaConfig, *, gpus: int, gpu_mem_gb: float, zero: int, tp: int = 1, seq: int = 2048,
                micro_batch: int = 1, precision: str = "bf16", activation_checkpointing: bool = False,
                backend: str = "cuda", reserve_gb: float = DEFAULT_RESERVE_GB,
                reduce_bucket_size: int = REDUCE_BUCKET_SIZE, loss_chunk_tokens: int = 0) -> dict:
    """Memory of one GPU for a run on ``gpus`` GPUs of ``gpu_mem_gb`` GiB.

    Keys (bytes unless named otherwise): ``params_total``, ``params_per_gpu`` (on one TP
    rank, before ZeRO-3 partitioning), ``tp``, ``dp``, ``zero``, ``weights``, ``gradients``,
    ``optimizer``, ``deepspeed_buffers``, ``model_states`` (their sum), ``activations``
    (peak of one micro-batch), ``activation_moment``, ``reserve``, ``total``, ``capacity``
    (``gpu_mem_gb`` GiB), ``headroom`` (capacity - total), ``fits`` (bool).
    """
    check_tp(cfg, tp)
    if gpus < 1 or gpus % tp:
        raise ValueError(f"TP={tp} must divide the number of GPUs ({gpus})")
    dp = gpus // tp
    states = model_state_bytes(cfg, zero=zero, tp=tp, dp=dp, precision=precision,
                               reduce_bucket_size=reduce_bucket_size)
    acts = activation_memory(cfg, micro_batch=micro_batch, seq=seq, tp=tp, precision=precision,
                             activation_checkpointing=activation_checkpointing, backend=backend,
                             loss_chunk_tokens=loss_chunk_tokens)
    model_states = sum(states.values())
    reserve, capacity = int(reserve_gb * GIB), int(gpu_mem_gb * GIB)
    total = model_states + acts["peak"] + reserve
    return {
        "params_total": sum(t.numel for t in inventory(cfg, tp)),
        "params_per_gpu": local_param_count(cfg, tp),
        "tp": tp, "dp": dp, "zero": zero, "micro_batch": micro_batch, "seq": seq,
        "precision": precision, "activation_checkpointing": activation_checkpointing, "backend": backend,
        **states, "model_states": model_states,
        "activations": acts["peak"], "activation_moment": acts["moment"],
        "reserve": reserve, "total": total, "capacity": capacity,
        "headroom": capacity - total, "fits": total <= capacity,
    }


def max_micro_batch(cfg: MambaConfig, *, gpus: int, gpu_mem_gb: float, zero: int, tp: int = 1, seq: int = 2048,
                    limit: int = 4096, **kwargs) -> int:
    """Largest micro-batch whose :func:`plan_memory` total fits (0: not even one sequence)."""
    def fits(b: int) -> bool:
        return plan_memory(cfg, gpus=gpus, gpu_mem_gb=gpu_mem_gb, zero=zero, tp=tp, seq=seq,
                           micro_batch=b, **kwargs)["fits"]

    if not fits(1):
        return 0
    lo, hi = 1, limit
    if fits(hi):
        return hi
    while hi - lo > 1:  # memory grows monotonically with the micro-batch
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def predicted_peak_bytes(cfg: MambaConfig, micro_batch: int, seq: int, precision: str = "bf16",
                         activation_checkpointing: bool = False, backend: str = "cuda",
                         loss_chunk_tokens: int = 0) -> int:
    """Predicted ``torch.cuda.max_memory_allocated()`` of a single-GPU ZeRO-0 training step.

    fp32 weights + fp32 gradients + Adam m and v + the activation peak; no reserve (the
    allocator's counter excludes the CUDA context and fragmentation). Compare after the
    first optimizer step, when Adam's states exist.
    """
    states = model_state_bytes(cfg, zero=0, tp=1, dp=1, precision=precision)
    acts = activation_memory(cfg, micro_batch=micro_batch, seq=seq, tp=1, precision=precision,
                             activation_checkpointing=activation_checkpointing, backend=backend,
                             loss_chunk_tokens=loss_chunk_tokens)
    return sum(states.values()) + acts["peak"]
