"""BioASQ task b: loading question files, writing Phase-B submissions, official scoring."""

from .data import QUESTION_TYPES, BioASQFormatError, Question, Snippet, load_bioasq, parse_questions, yesno_label
from .scorer import SCORE_KEYS, PhaseBResult, score_files, score_phase_b
from .submission import Answer, SubmissionFormatError, answer_to_json, read_submission, write_submission

__all__ = [
    "QUESTION_TYPES",
    "SCORE_KEYS",
    "Answer",
    "BioASQFormatError",
    "PhaseBResult",
    "Question",
    "Snippet",
    "SubmissionFormatError",
    "answer_to_json",
    "load_bioasq",
    "parse_questions",
    "read_submission",
    "score_files",
    "score_phase_b",
    "write_submission",
    "yesno_label",
]
