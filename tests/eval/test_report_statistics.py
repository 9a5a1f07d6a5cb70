"""Issue 18: intervals, McNemar, baselines, paired verdicts, the figure; issue 14: contamination marks.

Fast: the reports here are built from real scorer output on the bundled BioASQ sample with
synthetic submissions (no model runs); launcher-level runs are in test_report.py.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from biomamba.eval.bioasq.data import load_bioasq
from biomamba.eval.bioasq.scorer import score_phase_b
from biomamba.eval.intervals import interval, lm_metric, mcnemar_exact, mean_metric, paired_difference
from biomamba.eval.report.contamination import contamination, evaluation_sets
from biomamba.eval.report.items import baselines
from biomamba.eval.report.markdown import render
from biomamba.eval.report.plot import figure, panels
from biomamba.eval.report.scores import flatten_scores
from biomamba.eval.report.statistics import add_statistics

GOLD = "biomamba/resources/sample/bioasq_sample.json"


def test_bootstrap_interval_of_a_binomial_covers_the_analytic_interval():
    """n=400, p=0.3: the percentile bootstrap matches the normal (Wald) interval to 0.01 (~0.4 SE)."""
    x = np.array([1.0] * 120 + [0.0] * 280)
    ci = interval(mean_metric(x), resamples=4000, seed=1)
    half = 1.959964 * math.sqrt(0.3 * 0.7 / 400)
    assert ci["value"] == pytest.approx(0.3) and ci["n"] == 400
    assert ci["ci_low"] == pytest.approx(0.3 - half, abs=0.01) and ci["ci_high"] == pytest.approx(0.3 + half, abs=0.01)
    assert interval(mean_metric(x), 4000, seed=1) == ci  # seeded: reproducible
    assert interval(mean_metric(x), 4000, seed=2) != ci


def test_lm_interval_resamples_documents_and_a_ratio_stays_a_ratio():
    nll, tokens, nbytes = [10.0, 30.0, 20.0], [5, 10, 8], [40, 80, 60]
    m = lm_metric(nll, tokens, nbytes, "bits_per_byte")
    assert m.value() == pytest.approx(60 / (math.log(2) * 180))
    ci = interval(m, 500, 0)
    assert ci["n"] == 3 and ci["ci_low"] <= ci["value"] <= ci["ci_high"]
    assert interval(lm_metric(nll, tokens, nbytes, "perplexity"), 10, 0)["value"] == pytest.approx(math.exp(60 / 23))


def test_mcnemar_exact_p_value_by_hand():
    # b = 1 (A right, B wrong), c = 6: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 16/128
    a = [1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 0]
    assert mcnemar_exact(a, b) == {"b": 1, "c": 6, "p_value": 0.125}
    assert mcnemar_exact([1, 0], [1, 0])["p_value"] == 1.0  # no discordant pair
    assert mcnemar_exact([1] * 5, [0] * 5)["p_value"] == 2 / 32


def test_paired_bootstrap_sees_a_consistent_difference_that_unpaired_intervals_hide():
    rng = np.random.default_rng(0)
    difficulty = rng.uniform(0, 1, 60)  # large per-item spread, shared by both models
    a, b = mean_metric(difficulty + 0.05), mean_metric(difficulty)
    d = paired_difference(a, b, 1000, 0)
    assert d["value"] == pytest.approx(0.05) and 0 < d["ci_low"] <= d["ci_high"]
    ia, ib = interval(a, 1000, 0), interval(b, 1000, 0)
    assert ia["ci_low"] < ib["ci_high"]  # the separate intervals overlap
    with pytest.raises(ValueError):
        paired_difference(a, mean_metric([1.0]), 10, 0)


def _result(repo_root, answer_yes: list[bool], factoid_right: int) -> dict:
    """evaluate_model-shaped result from the real scorer on the bundled sample."""
    questions, _ = load_bioasq(repo_root / GOLD, require_answers=True)
    sub, yn, fac = {}, 0, 0
    for q in questions:
        entry = {"id": q.id, "ideal_answer": q.ideal_answers[0][:40] if q.type == "summary" else ""}
        if q.type == "yesno":
            entry["exact_answer"] = "yes" if answer_yes[yn % len(answer_yes)] else "no"
            yn += 1
        elif q.type == "factoid":
            entry["exact_answer"] = [[q.exact_answer[0][0]]] if fac < factoid_right else [["nothing"]]
            fac += 1
        elif q.type == "list":
            entry["exact_answer"] = [[e[0]] for e in q.exact_answer[:1]]
        sub[q.id] = entry
    scored = score_phase_b(questions, sub).to_dict(per_question=True)
    scored["gold_yesno"] = {q.id: q.exact_answer for q in questions if q.type == "yesno"}
    per = {"nll": [5.0 + i for i in range(8)], "tokens": [4] * 8, "bytes": [20] * 8}
    lm = {"tokens": 32, "bytes": 160, "nll_sum": sum(per["nll"]), "cross_entropy": 0, "perplexity": 0,
          "bits_per_byte": sum(per["nll"]) / (math.log(2) * 160), "per_text": per}
    return {"bioasq": scored, "lm": {"heldout": lm}}


def _report(results, names, contaminated=()) -> dict:
    models = [{"name": n, "tokenizer": {"group": "A"}, "scores": flatten_scores(r, True),
               "contamination": {"bioasq": {"status": "contaminated" if n in contaminated else "clean", "reason": "t",
                                            "prefixes": ["bioasq.", "lm.bioasq_snippets."]}},
               "model": n, "kind": "hf", "tag": None} for r, n in zip(results, names)]
    for m in models[0:]:
        m["tokenizer"].update(path="tok", vocab_size=10)
    report = {"models": models, "config": {"tasks": ["bioasq", "lm"], "device": "cpu", "dtype": "fp32"}}
    add_statistics(report, results, resamples=200, seed=0)
    return report


def test_baselines_are_exact_on_the_bundled_sample(repo_root):
    gold = json.loads((repo_root / GOLD).read_text())["questions"]
    labels = [q["exact_answer"] for q in gold if q["type"] == "yesno"]
    n_yes, n_no = labels.count("yes"), labels.count("no")
    rows = {r["name"]: r for r in baselines(_result(repo_root, [True], 0))}
    assert set(rows) == {'constant "yes"', 'constant "no"', f'majority ("{"yes" if n_yes >= n_no else "no"}")'}
    f1 = {"yes": Fraction(2 * n_yes, 2 * n_yes + n_no), "no": Fraction(2 * n_no, 2 * n_no + n_yes)}
    for label, n in (("yes", n_yes), ("no", n_no)):
        m = rows[f'constant "{label}"']["metrics"]
        assert m["bioasq.yesno_accuracy"].value() == pytest.approx(n / len(labels), abs=1e-12)
        assert m["bioasq.yesno_macro_f1"].value() == pytest.approx(float(f1[label]) / 2, abs=1e-12)


def test_pubmedqa_baselines_on_the_real_test_labels(samples_dir):
    truth = json.loads((samples_dir / "pubmedqa" / "test_ground_truth.json").read_text())
    n = {lab: list(truth.values()).count(lab) for lab in ("yes", "no", "maybe")}
    rows = [{"id": p, "truth": t, "prediction": "yes"} for p, t in truth.items()]
    got = {r["name"]: r["metrics"] for r in baselines({"pubmedqa": {"per_question": rows}})}
    big = max(n, key=n.get)
    assert set(got) == {'constant "yes"', f'majority ("{big}")', "uniform random"}
    N = len(truth)
    assert got['constant "yes"']["pubmedqa.accuracy"].value() == pytest.approx(n["yes"] / N)
    f1_yes = 2 * n["yes"] / (2 * n["yes"] + N - n["yes"])  # no and maybe: F1 0
    assert got['constant "yes"']["pubmedqa.macro_f1"].value() == pytest.approx(f1_yes / 3)
    # uniform random over 3 labels, by expected counts: accuracy 1/3, F1_L = 2 n_L / (N + 3 n_L)
    assert got["uniform random"]["pubmedqa.accuracy"].value() == pytest.approx(1 / 3)
    expected = sum(2 * c / (N + 3 * c) for c in n.values()) / 3
    assert got["uniform random"]["pubmedqa.macro_f1"].value() == pytest.approx(expected)


@pytest.mark.parametrize("names", [["mamba-2.1M pubmed step 200"], ["bio", "general", "third"]])
def test_report_renders_with_one_and_three_models(repo_root, names):
    patterns = [[True], [True, False], [False]]
    results = [_result(repo_root, patterns[i], factoid_right=i) for i in range(len(names))]
    report = _report(results, names)
    entry = report["models"][0]
    for ci in entry["metrics"].values():
        assert set(ci) == {"value", "ci_low", "ci_high", "n", "contaminated"} and ci["n"] > 0
    assert entry["metrics"]["bioasq.yesno_accuracy"]["value"] == entry["scores"]["bioasq.yesno_accuracy"]
    fig = figure(report)
    groups = panels(report)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [t for t, _ in groups]
    assert {t for t, _ in groups} == {"BioASQ exact answers", "BioASQ ideal answers (ROUGE)",
                                      "LM bits per byte (lower is better)"}
    for ax in fig.axes:
        if not ax.get_title():
            continue  # a twin axis
        bars = [p for p in ax.patches if p.get_width() > 0]
        assert len(bars) >= len(names)  # no empty panel
        assert all(t.get_text() for t in ax.get_xticklabels())
        assert any(t.get_text() == "0" for t in ax.texts) or all(p.get_height() > 0 for p in bars)
    assert [t.get_text() for t in fig.legends[0].get_texts()][: len(names)] == names
    md = render(report)
    assert "[" in md.split("| bioasq.yesno_accuracy |")[1].splitlines()[0]
    assert '*baseline: bioasq constant "yes"*' in md and '*baseline: bioasq constant "no"*' in md
    assert ("## Paired differences" in md) == (len(names) > 1)


def test_better_is_stated_only_where_the_interval_excludes_zero(repo_root):
    results = [_result(repo_root, [True], 10), _result(repo_root, [True], 0)]
    report = _report(results, ["a", "b"])
    by_metric = {c["metric"]: c for c in report["comparisons"]}
    mrr = by_metric["bioasq.factoid_mrr"]
    assert mrr["difference"]["ci_low"] > 0 and mrr["better"] == "a"
    same = by_metric["bioasq.yesno_accuracy"]
    assert same["difference"]["value"] == 0 and same["better"] is None and same["mcnemar"]["p_value"] == 1.0
    md = render(report)
    assert "**a** better (interval excludes 0)" in md and "no clear difference (interval includes 0)" in md


def test_contaminated_metrics_are_never_printed_as_clean_numbers(repo_root):
    results = [_result(repo_root, [True], 3), _result(repo_root, [True], 3)]
    report = _report(results, ["bio", "general"], contaminated={"bio"})
    bio, general = report["models"]
    assert bio["metrics"]["bioasq.yesno_accuracy"]["contaminated"] is True
    assert general["metrics"]["bioasq.yesno_accuracy"]["contaminated"] is False
    assert bio["metrics"]["lm.heldout.bits_per_byte"]["contaminated"] is False  # held-out texts are not judged
    row = render(report).split("| bioasq.yesno_accuracy |")[1].splitlines()[0]
    cells = [c.strip() for c in row.split("|") if c.strip()]
    assert cells[0].startswith("contaminated (") and not cells[1].startswith("contaminated")


def _manifest(tmp_path, name, record):
    d = tmp_path / name
    d.mkdir()
    m = {"format": "biomamba-shards/1", **({"decontamination": record} if record is not None else {})}
    (d / "manifest.json").write_text(json.dumps(m))
    return str(d), m


def test_contamination_status_from_training_manifests(repo_root, tmp_path):
    from data_prep.stages.split.decontam import load_exclusions

    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"questions": [{"id": "q", "type": "yesno", "body": "?", "exact_answer": "yes",
                                               "documents": ["http://www.ncbi.nlm.nih.gov/pubmed/123"]}]}))
    args = SimpleNamespace(bioasq_gold=str(gold), tasks=["bioasq"], pubmedqa_data=None, pubmedqa_ground_truth=None)
    sets = evaluation_sets(args)
    assert sets["bioasq"]["pmids"] == {"123"}
    removed = _manifest(tmp_path, "clean", load_exclusions(bioasq_files=[gold]).record(["pmid:123"]))
    by_ids = _manifest(tmp_path, "ids", {"sets": [], "pmids": ["123", "5"]})
    other = _manifest(tmp_path, "other", {"sets": [], "pmids": ["5"]})
    old = _manifest(tmp_path, "old", None)
    assert contamination([removed, by_ids], sets)["bioasq"]["status"] == "clean"
    assert contamination([removed, other], sets)["bioasq"]["status"] == "contaminated"
    assert contamination([old], sets)["bioasq"]["status"] == "contaminated"  # nothing says it was removed
    assert contamination([("gone", None)], sets)["bioasq"]["status"] == "unknown"
    assert contamination([], sets)["bioasq"]["status"] == "unknown"


def test_fine_tuning_on_evaluation_questions_is_contamination(tmp_path):
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"questions": [{"id": "q1", "type": "yesno", "body": "?", "exact_answer": "yes"}]}))
    train = tmp_path / "train.json"
    train.write_text(json.dumps({"questions": [{"id": "q1"}, {"id": "q2"}]}))
    args = SimpleNamespace(bioasq_gold=str(gold), tasks=["bioasq"], pubmedqa_data=None, pubmedqa_ground_truth=None)
    sets = evaluation_sets(args)
    clean = _manifest(tmp_path, "clean", {"sets": [{"sha256": next(iter(sets["bioasq"]["sha256"]))}], "pmids": []})
    assert contamination([clean], sets)["bioasq"]["status"] == "clean"
    tuned = [{"train_json": str(train), "exclude_json": []}]
    got = contamination([clean], sets, tuned)["bioasq"]
    assert got["status"] == "contaminated" and "1 evaluation questions" in got["reason"]
    excluded = [{"train_json": str(train), "exclude_json": [str(gold)]}]
    assert contamination([clean], sets, excluded)["bioasq"]["status"] == "clean"
    gone = [{"train_json": str(tmp_path / "missing.json"), "exclude_json": []}]
    assert contamination([clean], sets, gone)["bioasq"]["status"] == "unknown"


def test_names_come_from_the_run_unless_given(tmp_path):
    from pathlib import Path

    from biomamba.eval.report.cli import set_names
    from biomamba.eval.report.models import ModelSpec
    from biomamba.eval.report.provenance import run_name

    meta = {"config": {"model": {"d_model": 64, "n_layer": 2, "vocab_size": 1000},
                       "data": {"datasets": [{"path": "/scratch/prep/pubmed/shards/train"}]}},
            "train_state": {"step": 200}}
    name = run_name(meta)
    assert name.startswith("mamba-") and name.endswith(" pubmed step 200")
    specs = [ModelSpec("a", Path(tmp_path / "hf"), "hf", None, Path("t")), ModelSpec("b", Path(tmp_path / "x"), "hf",
                                                                                       None, Path("t"))]
    set_names(specs, [meta, None], None)
    assert [s.name for s in specs] == [name, "x"]
    set_names(specs, [meta, None], ["bio", "general"])
    assert [s.name for s in specs] == ["bio", "general"]


def test_bad_names_and_resamples_exit_2(tmp_path, capsys):
    from biomamba.eval.report.cli import main

    base = ["--models", str(tmp_path / "a"), str(tmp_path / "b"), "--tasks", "lm", "--heldout", "x.jsonl"]
    assert main(base + ["--names", "only-one"]) == 2
    assert "--names: give one distinct name per --models entry" in capsys.readouterr().err
    assert main(base + ["--names", "same", "same"]) == 2
    assert main(base + ["--bootstrap-resamples", "-1"]) == 2
    assert "--bootstrap-resamples" in capsys.readouterr().err


def test_a_fine_tuning_run_is_named_by_its_training_file():
    from biomamba.eval.report.provenance import run_name

    meta = {"config": {"model": {"d_model": 64, "n_layer": 2, "vocab_size": 1000}, "data": {},
                       "finetune": {"train_json": "/data/bioasq/training12b.json"}}, "train_state": {"step": 125}}
    assert run_name(meta).endswith(" ft:training12b step 125")
