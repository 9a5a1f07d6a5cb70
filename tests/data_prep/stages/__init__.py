"""Tests of data_prep/stages (resolve, clean, near dedup, split, tokenizer, shard).
"""
