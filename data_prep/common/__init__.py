"""Plumbing every stage uses: the record contract (records) and its JSONL files (jsonl), per-stage
accounting (stats), progress and logging (progress), decompressed byte streams that salvage truncated
gzip files (streams), resumable HTTP downloads (http_fetch) and Slurm array partitioning (tasks).
"""
