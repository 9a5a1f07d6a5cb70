"""Fault injection for tests and drills, from outside the loop: NaN losses at chosen steps.

    torchrun --nproc_per_node 2 -m biomamba.train.faults --inject-nonfinite 3,4 --config CONFIG [key=value ...]

runs ``launcher/train.py``'s pretraining with the training batches wrapped by :class:`NonFiniteAt`:
the loss of those steps is NaN on every rank, so the run shows what a diverging step does
(the update is skipped and logged as ``skipped_nonfinite``; ``max_consecutive_nonfinite`` in a
row stop the run). Production launchers never import this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator


class NonFiniteAt:
    """The training batches of ``data``, unchanged, with the model's output (logits, or the training path's
    per-token loss) made NaN while the micro-batches of ``steps`` train (1 = the first step this process
    trains; ``ga`` micro-batches a step).

    A forward hook on ``model`` does it, and only in training mode: evaluation is left alone.
    ``state_dict``/``load_state_dict`` are the wrapped source's, so checkpoints are unchanged.
    """

    def __init__(self, data, model, steps: Iterable[int], ga: int):
        self.data, self.steps, self.ga = data, set(steps), ga
        self._poison = False
        model.register_forward_hook(self._hook)

    def _hook(self, module, _inputs, output):
        if module.training and self._poison:
            if isinstance(output, tuple):  # the training loss path: (per-token nll, mask)
                return (output[0] * float("nan"), *output[1:])
            return output * float("nan")
        return None

    def __iter__(self) -> Iterator[dict]:
        for i, batch in enumerate(self.data):
            self._poison = i // self.ga + 1 in self.steps
            yield batch

    def state_dict(self):
        return self.data.state_dict()

    def load_state_dict(self, *args, **kwargs):
        return self.data.load_state_dict(*args, **kwargs)


def main(argv=None) -> int:
    from biomamba.config import config_from_args

    from .config import TrainConfig
    from .preemption import install_handlers
    from .run import launch, parse_args, pretrain

    install_handlers()
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    p.add_argument("--inject-nonfinite", required=True, help="comma-separated steps whose loss becomes NaN, e.g. 3,4")
    known, rest = p.parse_known_args(argv)
    steps = {int(x) for x in known.inject_nonfinite.split(",") if x.strip()}
    cfg = config_from_args(TrainConfig, parse_args(rest, description="Pretrain with NaN losses injected"))

    def wrap(data, model):
        return NonFiniteAt(data, model, steps, cfg.parallel.gradient_accumulation_steps)

    return launch(cfg, lambda dims: pretrain(cfg, dims, wrap))


if __name__ == "__main__":
    sys.exit(main())
