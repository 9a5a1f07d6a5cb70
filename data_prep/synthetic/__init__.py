"""Synthetic inputs for tests, the embedded sample and benchmarks: a PubMed-format baseline +
update (sample_corpus, words from sample_vocab) and a corpus with planted near-duplicates (planted_dups).
"""
