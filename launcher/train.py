"""Pretrain a Mamba language model.

    deepspeed --num_gpus 8 launcher/train.py --config configs/pretrain/130m.yaml key=value ...
    torchrun --nproc_per_node 2 launcher/train.py --config configs/pretrain/tiny.yaml
    srun python launcher/train.py --config ...        (see slurm/pretrain.sh)

Exit codes: 0 done, 75 checkpointed after SIGUSR1/SIGTERM (requeue me), 2 bad config.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Before the heavy imports: a SIGUSR1/SIGTERM that arrives while torch and DeepSpeed load is
# remembered (and acted on at the first step boundary) instead of killing the process.
from biomamba.train.preemption import install_handlers  # noqa: E402

install_handlers()

from biomamba.train.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
