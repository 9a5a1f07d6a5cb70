"""Data preparation for BioMamba: PubMed / PMC XML -> clean records -> tokenizer -> token shards.

Run ``python -m data_prep --help``; the stages and their accounting are described
in ``docs/data_prep.md``.  Each stage is one module; the record contract and the
shard format are in ``docs/CONTRACTS.md``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
