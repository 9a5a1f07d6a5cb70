"""``python -m biomamba.plan``."""

import sys

from .cli import main

sys.exit(main())
