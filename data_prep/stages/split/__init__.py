"""split: evaluation documents removed (decontam), then train/val/test by id hash, cut into parts.
"""
