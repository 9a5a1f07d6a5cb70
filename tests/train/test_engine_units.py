"""Engine pieces that need no processes: LR schedules, weight-decay groups, layout validation, DeepSpeed config."""

from __future__ import annotations

import pytest

from biomamba.config import ConfigError, load_config
from biomamba.model import MambaConfig, MambaLM
from biomamba.train.config import OptimConfig, ScheduleConfig, TrainConfig
from biomamba.train.deepspeed_config import deepspeed_config
from biomamba.train.optim import param_groups
from biomamba.train.schedule import lr_multiplier

from .launch import TINY


def test_cosine_schedule():
    cfg = ScheduleConfig(kind="cosine", warmup_steps=10)
    assert lr_multiplier(0, 110, cfg, 0.1) == pytest.approx(0.1)  # (0 + 1) / 10
    assert lr_multiplier(9, 110, cfg, 0.1) == pytest.approx(1.0)
    assert lr_multiplier(10, 110, cfg, 0.1) == pytest.approx(1.0)
    assert lr_multiplier(60, 110, cfg, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)  # half way: cos(pi/2) = 0
    assert lr_multiplier(110, 110, cfg, 0.1) == pytest.approx(0.1)


def test_warmup_stable_decay_schedule():
    cfg = ScheduleConfig(kind="wsd", warmup_steps=10, decay_fraction=0.2)
    assert lr_multiplier(5, 100, cfg, 0.0) == pytest.approx(0.6)
    assert lr_multiplier(50, 100, cfg, 0.0) == 1.0 and lr_multiplier(79, 100, cfg, 0.0) == 1.0  # stable
    assert lr_multiplier(90, 100, cfg, 0.0) == pytest.approx(0.5)  # linear decay over the last 20 steps
    assert lr_multiplier(100, 100, cfg, 0.0) == pytest.approx(0.0)


def test_no_weight_decay_on_A_log_D_norms_and_biases():
    model = MambaLM(MambaConfig(d_model=32, n_layer=2, vocab_size=100, ssm_cfg={"d_state": 4})).init_weights(0)
    decay, no_decay = param_groups(model, 0.1)
    ids = {id(p) for p in no_decay["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in ids}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    for n in names:
        assert n.endswith(("A_log", ".D", "bias", "norm.weight", "norm_f.weight")), n
    assert {"backbone.layers.0.mixer.A_log", "backbone.layers.0.mixer.D", "backbone.layers.1.norm.weight",
            "backbone.norm_f.weight", "backbone.layers.0.mixer.dt_proj.bias", "backbone.layers.0.mixer.conv1d.bias"} <= names
    # every parameter in exactly one group; the tied head counted once
    total = len(decay["params"]) + len(no_decay["params"])
    assert total == len({id(p) for p in model.parameters()})


@pytest.mark.parametrize("override, message", [
    (["parallel.tensor_parallel=3"], "d_inner=512 .* is not divisible"),
    (["parallel.tensor_parallel=16", "model.d_model=64", "model.vocab_size=1000"], "padded vocabulary 1000 is not divisible"),
    (["schedule.warmup_steps=50"], "warmup_steps=50 >= max_steps=20"),
    (["optim.lr=0"], "optim.lr: must be > 0"),
])
def test_layout_validation_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TrainConfig, TINY, override)


def test_world_size_must_be_a_multiple_of_tp():
    cfg = load_config(TrainConfig, TINY, ["parallel.tensor_parallel=2"])
    cfg.check_world(4)
    with pytest.raises(ConfigError, match="does not divide the world size 3"):
        cfg.check_world(3)


def test_deepspeed_config_from_the_run_config():
    cfg = load_config(TrainConfig, TINY, ["parallel.precision=bf16", "parallel.zero_stage=3",
                                         "parallel.gradient_accumulation_steps=4", "optim.grad_clip=0.5"])
    ds = deepspeed_config(cfg, dp_size=8)
    assert ds["train_batch_size"] == cfg.data.micro_batch_size * 4 * 8
    assert ds["zero_optimization"]["stage"] == 3 and ds["gradient_clipping"] == 0.5
    # bf16 = torch autocast with fp32 master weights (A_log/D never cast), not DeepSpeed's bf16 mode
    assert ds["torch_autocast"]["enabled"] and "bf16" not in ds
    assert OptimConfig().impl == "auto"


def test_nonfinite_injection_wraps_the_batches_not_the_loop():
    """biomamba.train.faults.NonFiniteAt: the chosen steps' logits are NaN in training mode only; the batches
    and the source's loader state pass through unchanged."""
    import torch

    from biomamba.train.faults import NonFiniteAt

    class Source(list):
        def state_dict(self):
            return {"position": len(self)}

        def load_state_dict(self, state, allow_mismatch=False):
            self.loaded = (state, allow_mismatch)

    model = MambaLM(MambaConfig(d_model=16, n_layer=1, vocab_size=50, ssm_cfg={"d_state": 4})).init_weights(0)
    ids = torch.randint(0, 50, (1, 8), generator=torch.Generator().manual_seed(0))
    src = Source({"input_ids": ids, "i": i} for i in range(6))
    data = NonFiniteAt(src, model, steps={2}, ga=2)  # step 2 = micro-batches 2 and 3
    finite = []
    for mb in data:
        model.train()
        finite.append(bool(torch.isfinite(model(mb["input_ids"])).all()))
        nll, mask = model(mb["input_ids"], labels=mb["input_ids"])  # the training step's loss path
        assert bool(torch.isfinite(nll).all()) == finite[-1] and bool(mask.all())
        model.eval()
        assert torch.isfinite(model(mb["input_ids"])).all()  # evaluation is never poisoned
    assert finite == [True, True, False, False, True, True]
    assert [mb["i"] for mb in data] == list(range(6))
    assert data.state_dict() == {"position": 6}
    data.load_state_dict({"position": 2}, allow_mismatch=True)
    assert src.loaded == ({"position": 2}, True)


def test_parallel_dims_default_is_one_cpu_process_and_feeds_deepspeeds_mpu():
    import torch

    from biomamba.parallel import DeepSpeedMPU, ParallelDims

    dims = ParallelDims()
    assert (dims.world_size, dims.tp, dims.dp, dims.is_main, dims.device) == (1, 1, 1, True, torch.device("cpu"))
    dims = ParallelDims(world_size=8, rank=5, tp=2, dp=4, tp_rank=1, dp_rank=2, tp_group="tp", dp_group="dp")
    mpu = DeepSpeedMPU(dims)
    assert not dims.is_main
    tp = (mpu.get_model_parallel_rank(), mpu.get_model_parallel_world_size(), mpu.get_model_parallel_group())
    dp = (mpu.get_data_parallel_rank(), mpu.get_data_parallel_world_size(), mpu.get_data_parallel_group())
    assert tp == (1, 2, "tp") and dp == (2, 4, "dp")
    assert mpu.get_tensor_model_parallel_group() == "tp" and mpu.get_pipeline_model_parallel_world_size() == 1
