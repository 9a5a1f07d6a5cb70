"""Data preparation for BioMamba: PubMed / PMC XML -> clean records -> tokenizer -> token shards.

Run ``python -m data_prep --help``; the stages and their accounting are described
in ``docs/data_prep.md``, the record contract and the shard format in ``docs/CONTRACTS.md``.

Layout, in the order the data flows (docs/ARCHITECTURE.md draws it with the module of each arrow):

* :mod:`data_prep.sources` — NLM XML -> records: ``download``, ``pubmed/`` and ``pmc/``;
* :mod:`data_prep.stages` — ``resolve`` -> ``clean/`` -> ``split/`` -> ``tokenizer/`` -> ``shard/``;
* :mod:`data_prep.common` — the record contract, JSONL files, accounting, streams, HTTP, Slurm arrays;
* :mod:`data_prep.synthetic` — generated inputs for the sample, tests and benchmarks;
* here: ``cli``/``commands`` (the commands), ``config``, ``pipeline`` (``run``), ``prep_plan`` (``plan``).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
