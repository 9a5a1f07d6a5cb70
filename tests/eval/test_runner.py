"""evaluate_model end to end with a tiny random MambaLM; the shipped sample and fixture files."""

from __future__ import annotations

import json

import pytest

from biomamba.config import ConfigError
from biomamba.eval.adapters import mamba_lm_scorer
from biomamba.eval.bioasq.data import load_bioasq
from biomamba.eval.bioasq.scorer import SCORE_KEYS, score_files
from biomamba.eval.config import EvalConfig
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.prompting import rank_passages
from biomamba.eval.runner import evaluate_model
from biomamba.model import MambaConfig, MambaLM


@pytest.fixture(scope="module")
def scorer(tokenizer):
    cfg = MambaConfig(d_model=32, n_layer=2, vocab_size=tokenizer.vocab_size, ssm_cfg={"d_state": 8})
    return mamba_lm_scorer(MambaLM(cfg).init_weights(0), name="tiny")


def small_budgets(**kw):
    return EvalConfig(decoding=DecodingConfig(max_prompt_tokens=256, max_exact_tokens=6, max_ideal_tokens=12),
                      lm_max_length=128, **kw)


def test_bioasq_and_lm_on_the_sample(scorer, tokenizer, repo_root, tmp_path):
    gold = str(repo_root / "biomamba/resources/sample/bioasq_sample.json")
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(json.dumps({"text": "Statins inhibit HMG-CoA reductase."}) + "\n")
    cfg = small_budgets(
        tasks=["bioasq", "lm"],
        bioasq_gold=gold,
        submission_out=str(tmp_path / "sub.json"),
        lm_texts={"pubmed": str(held_out)},
    )
    result = evaluate_model(scorer, tokenizer, cfg)
    assert result["model"] == "tiny" and result["loads"][0]["loaded"] == 39
    assert set(SCORE_KEYS) <= set(result["bioasq"])
    assert result["bioasq"]["counts"]["missing"] == 0 and result["bioasq"]["warnings"] == []
    # the written submission is official JSON and scores the same from disk
    assert score_files(gold, tmp_path / "sub.json").scores == {k: result["bioasq"][k] for k in SCORE_KEYS}
    assert set(result["lm"]) == {"bioasq_snippets", "bioasq_ideal_answers", "pubmed"}
    for stats in result["lm"].values():
        assert stats["tokens"] > 0 and stats["bits_per_byte"] > 0


def test_pubmedqa_on_real_questions(scorer, tokenizer, samples_dir, tmp_path):
    folder = samples_dir / "pubmedqa"
    truth = dict(list(json.loads((folder / "test_ground_truth.json").read_text()).items())[:8])
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(truth))
    cfg = small_budgets(
        tasks=["pubmedqa"], pubmedqa_data=str(folder / "ori_pqal_test500_subset.json"), pubmedqa_ground_truth=str(gt)
    )
    result = evaluate_model(scorer, tokenizer, cfg)["pubmedqa"]
    assert result["n"] == 8 and 0.0 <= result["accuracy"] <= 1.0


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="bioasq_gold"):
        EvalConfig(tasks=["bioasq"]).validate()
    with pytest.raises(ConfigError, match="tasks"):
        EvalConfig(tasks=["squad"], bioasq_gold="x").validate()
    with pytest.raises(ConfigError, match="factoid_candidates"):
        EvalConfig(bioasq_gold="x", decoding=DecodingConfig(factoid_candidates=6)).validate()


def test_fixture_files_are_clean(repo_root):
    folder = repo_root / "tests/fixtures/eval"
    training, r1 = load_bioasq(folder / "training.json", require_answers=True)
    dev, r2 = load_bioasq(folder / "dev.json")
    gold, r3 = load_bioasq(folder / "dev_golden.json", require_answers=True)
    assert r1.ok and r2.ok and r3.ok
    assert [q.id for q in dev] == [q.id for q in gold] and not {q.id for q in dev} & {q.id for q in training}
    assert all(q.exact_answer is None for q in dev)
    for questions in (training, gold):
        labels = [q.exact_answer for q in questions]
        assert labels.count("yes") == labels.count("no")
        # the answer is the last word of the result snippet, which prompt ranking puts last
        assert all(q.snippets[1].text.endswith("raised." if q.exact_answer == "yes" else "lowered.") for q in questions)
        assert all(rank_passages(q.body, [s.text for s in q.snippets])[-1] == q.snippets[1].text for q in questions)
