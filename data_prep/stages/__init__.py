"""Stages after extraction, in order: resolve -> clean -> split -> tokenizer -> shard.

Each stage reads the files of the one before and writes its own plus a balanced stats.json
(common.stats); each is a `python -m data_prep` command and, where it scales, a Slurm array stage.
"""
