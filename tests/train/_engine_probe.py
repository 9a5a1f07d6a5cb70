"""Build the engine exactly as the trainer does (under torchrun), run one forward, report what DeepSpeed set up.

Writes JSON to $PROBE_OUT (rank 0): each parameter's gradient-reduction dtype (DeepSpeed's
``comm_dtype``, as its ZeRO optimizer reads it), the module classes, and the dtype of
``in_proj``'s output in a forward through the engine (bf16 iff autocast is on).
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from biomamba.config import config_from_args  # noqa: E402
from biomamba.train.build import build_model  # noqa: E402
from biomamba.train.config import TrainConfig  # noqa: E402
from biomamba.parallel import destroy_parallel, init_parallel  # noqa: E402
from biomamba.train.engine import initialize_engine  # noqa: E402
from biomamba.train.optim import build_optimizer  # noqa: E402
from biomamba.train.run import parse_args  # noqa: E402
from biomamba.train.schedule import build_scheduler  # noqa: E402


def main():
    from deepspeed.runtime.torch_autocast import get_comm_dtype

    cfg = config_from_args(TrainConfig, parse_args())
    dims = init_parallel(cfg.parallel.tensor_parallel, "gloo")
    model = build_model(cfg, dims)
    opt = build_optimizer(model, cfg.optim, "cpu")
    engine = initialize_engine(cfg, dims, model, opt, build_scheduler(opt, cfg.max_steps, cfg.schedule, 0.1))
    seen = {}
    mixer = engine.module.backbone.layers[0].mixer

    def hook(_module, _inputs, output):
        seen.setdefault("in_proj_out", str(output.dtype))  # returns None: the output is unchanged

    mixer.in_proj.register_forward_hook(hook)
    engine(torch.randint(0, cfg.model.vocab_size, (2, 16)))
    modules = dict(engine.module.named_modules())
    report = {
        "comm_dtype": {n: str(get_comm_dtype(p)) for n, p in engine.module.named_parameters()},
        "classes": {n: type(modules[n.rsplit(".", 1)[0]]).__name__ for n, _ in engine.module.named_parameters()},
        "in_proj_out": seen["in_proj_out"],
    }
    if dims.rank == 0:
        Path(os.environ["PROBE_OUT"]).write_text(json.dumps(report))
    destroy_parallel()


if __name__ == "__main__":
    main()
