"""Compare models on BioASQ, PubMedQA and language-model metrics; write report.{md,json,png}.

    python launcher/evaluate.py --models runs/ft exports/biomamba-130m /models/mamba-130m-hf \
        --tasks bioasq lm pubmedqa --bioasq-gold 12B1_golden.json --heldout prep/split/test \
        --pubmedqa-data ori_pqal.json --pubmedqa-ground-truth test_ground_truth.json --out reports/cmp

Every metric gets a 95 % bootstrap interval (--bootstrap-resamples, --bootstrap-seed), chance/majority
baseline rows, and each pair of models its paired difference (paired bootstrap; McNemar for accuracies):
``--models BIO GENERAL`` prints the bio-vs-general difference in bits per byte and accuracy per task.
Metrics on evaluation sets not removed from a model's training data are marked contaminated.
Names come from each run (scale, data, step); --names overrides them.

Exit codes: 0 done, 2 bad arguments. See docs/finetune.md ("Compare models").
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biomamba.eval.report.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
