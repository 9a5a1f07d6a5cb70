"""Convert BioMamba checkpoints and models (same CLI as the ``biomamba-convert`` console script).

    python launcher/convert.py runs/130m --to hf --out exports/130m-hf --verify
    python launcher/convert.py runs/130m/checkpoints --tag step_00010000 --to mamba_ssm --out exports/130m-ssm
    python launcher/convert.py exports/130m-hf --to biomamba --out init/130m --tp 2

See docs/convert.md. Exit codes: 0 done, 2 cannot convert (message says why), 3 --verify failed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biomamba.convert.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
