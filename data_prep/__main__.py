"""``python -m data_prep``: the data-preparation command line (see :mod:`data_prep.cli`)."""

from data_prep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
