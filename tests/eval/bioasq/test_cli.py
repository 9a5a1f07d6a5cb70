"""``python -m biomamba.eval.bioasq score`` prints the scores as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

from biomamba.eval.bioasq.__main__ import main
from biomamba.eval.bioasq.scorer import SCORE_KEYS

REQUIRED = {
    "yesno_accuracy",
    "yesno_macro_f1",
    "factoid_strict_accuracy",
    "factoid_lenient_accuracy",
    "factoid_mrr",
    "list_mean_precision",
    "list_mean_recall",
    "list_mean_f1",
    "rouge2_recall",
    "rouge2_f1",
    "rougesu4_recall",
    "rougesu4_f1",
}


def test_cli_scores_a_submission(repo_root, write_json):
    gold = write_json(
        "gold.json",
        {
            "questions": [
                {"id": "a", "type": "yesno", "body": "Is it?", "exact_answer": "yes", "ideal_answer": "Yes it is."},
                {"id": "b", "type": "factoid", "body": "What?", "exact_answer": [["p53"]], "ideal_answer": "p53."},
            ]
        },
    )
    sub = write_json("sub.json", {"questions": [{"id": "a", "exact_answer": "no", "ideal_answer": "Yes it is."}]})
    out = subprocess.run(
        [sys.executable, "-m", "biomamba.eval.bioasq", "score", "--gold", gold, "--submission", sub],
        capture_output=True,
        text=True,
        cwd=repo_root,
        check=True,
    )
    scores = json.loads(out.stdout)
    assert REQUIRED <= set(scores) and set(SCORE_KEYS) <= set(scores)
    assert scores["yesno_accuracy"] == 0.0 and scores["factoid_mrr"] == 0.0
    assert scores["rouge2_f1"] == 0.5  # a: 1.0, b: missing -> 0
    assert scores["counts"]["missing"] == 1


def test_cli_bad_file_exits_2(write_json, capsys):
    gold = write_json("gold.json", {"no": "questions"})
    assert main(["score", "--gold", gold, "--submission", gold]) == 2
    assert "questions" in capsys.readouterr().err
