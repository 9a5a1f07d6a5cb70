"""Tests of data_prep/sources (download, PubMed and PMC extraction).
"""
