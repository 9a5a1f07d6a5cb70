"""``launcher/train.py`` with NaN losses injected at chosen steps (:mod:`biomamba.train.faults`), for torchrun:

    _faulty_train.py --config configs/pretrain/tiny_synthetic.yaml key=value ... --inject-nonfinite 3,4
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from biomamba.train.preemption import install_handlers  # noqa: E402

install_handlers()

from biomamba.train.faults import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
