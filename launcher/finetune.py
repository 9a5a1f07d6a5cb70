"""Fine-tune a Mamba LM on BioASQ, selecting the checkpoint on a dev split carved from the training set.

    deepspeed --num_gpus 8 launcher/finetune.py --config configs/finetune/bioasq.yaml init.from_pretrained=DIR
    torchrun --nproc_per_node 2 launcher/finetune.py --config configs/finetune/tiny_fixture.yaml
    srun python launcher/finetune.py --config ...        (see slurm/finetune_bioasq.sh)

Exit codes: 0 done (or stopped early), 75 checkpointed after SIGUSR1/SIGTERM (requeue me), 2 bad config.
See docs/finetune.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Before the heavy imports: a SIGUSR1/SIGTERM that arrives while torch and DeepSpeed load is
# remembered (and acted on at the first step boundary) instead of killing the process.
from biomamba.train.preemption import install_handlers  # noqa: E402

install_handlers()

from biomamba.finetune.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
