"""PubMedQA: original-format loader, the official test/CV splits, accuracy and macro-F1."""

from .data import PUBMEDQA_LABELS, PubMedQAFormatError, PubMedQAItem, load_ground_truth, load_pubmedqa, parse_pubmedqa
from .metrics import accuracy, macro_f1, score_pubmedqa
from .splits import PubMedQASplits, official_splits, stratified_split

__all__ = [
    "PUBMEDQA_LABELS",
    "PubMedQAFormatError",
    "PubMedQAItem",
    "PubMedQASplits",
    "accuracy",
    "load_ground_truth",
    "load_pubmedqa",
    "macro_f1",
    "official_splits",
    "parse_pubmedqa",
    "score_pubmedqa",
    "stratified_split",
]
