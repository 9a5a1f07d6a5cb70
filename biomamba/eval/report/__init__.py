"""The model comparison report of ``launcher/evaluate.py`` (docs/finetune.md, "Compare models").

* ``models`` -- open any model path (training run / checkpoint, export, HF, mamba_ssm) with its tokenizer
* ``heldout`` -- held-out text sets (JSONL files or data-prep split folders)
* ``scores`` -- flat metric names, which metrics compare across tokenizers
* ``markdown`` / ``plot`` -- report.md and report.png
* ``cli`` -- the command line: evaluate every model on the same sets, write report.{md,json,png}
"""
