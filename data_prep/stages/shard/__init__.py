"""shard: split parts -> WebDataset token shards with receipts (shard, several parts at once
in shard_workers), then merge_manifest joins the receipts into each split's manifest.json.
"""
