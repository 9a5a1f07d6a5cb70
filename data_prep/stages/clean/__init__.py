"""clean: normalization, PubMed/PMC overlap, exact and near dedup (clean, dedup).

At scale the near dedup runs as array stages instead: neardedup (signatures, buckets, filter)
and neardedup_cluster (clusters, and the chain of all four in one process).
"""
