"""Tests of data_prep/common.
"""
