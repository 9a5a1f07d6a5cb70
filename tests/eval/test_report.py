"""launcher/evaluate.py's comparison report: the same sets for every model, flat metric names in report.json,
per-token metrics flagged when tokenizers differ, submissions and plots written, bad arguments exit 2."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from biomamba.convert.export import export
from biomamba.convert.source import LoadedModel
from biomamba.eval.bioasq.scorer import score_files
from biomamba.eval.report.cli import main
from biomamba.eval.report.heldout import heldout_names, read_heldout
from biomamba.model import MambaConfig, MambaLM

GOLD = "biomamba/resources/sample/bioasq_sample.json"
FAST = ["--max-prompt-tokens", "160", "--max-exact-tokens", "4", "--max-ideal-tokens", "6", "--factoid-candidates", "2",
        "--lm-max-length", "64", "--device", "cpu"]


@pytest.fixture(scope="module")
def other_sp_model(tmp_path_factory, repo_root) -> str:
    """A second, different tokenizer (smaller vocabulary)."""
    import sentencepiece as spm

    from tests.eval.conftest import _corpus

    out = tmp_path_factory.mktemp("spm_b") / "b.model"
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(_corpus(repo_root)), model_writer=model, vocab_size=600,
                                   model_type="bpe", byte_fallback=True, character_coverage=1.0, pad_id=0, unk_id=1,
                                   bos_id=2, eos_id=3, minloglevel=2)
    out.write_bytes(model.getvalue())
    return str(out)


def export_tiny(out: Path, vocab: int, tokenizer: str, to: str, seed: int) -> Path:
    cfg = MambaConfig(d_model=32, n_layer=2, vocab_size=vocab, ssm_cfg={"d_state": 8})
    state = {k: v.detach().clone() for k, v in MambaLM(cfg).init_weights(seed).state_dict().items()}
    export(LoadedModel("biomamba", Path("<memory>"), cfg, state), out, to, tokenizer=tokenizer)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory, sp_model_path, other_sp_model):
    root = tmp_path_factory.mktemp("models")
    return {
        "ours": export_tiny(root / "ours", 1000, sp_model_path, "biomamba", 0),
        "ours_hf": export_tiny(root / "ours_hf", 1000, sp_model_path, "hf", 1),
        "general": export_tiny(root / "general", 600, other_sp_model, "hf", 2),
    }


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """A data-prep split folder: part files of records with a text field."""
    folder = tmp_path_factory.mktemp("split") / "test"
    folder.mkdir()
    texts = ["Metformin lowers blood glucose.", "Statins inhibit HMG-CoA reductase.",
             "Insulin is made in the pancreas.",
             "p53 is a tumour suppressor."]
    for i in range(2):
        lines = [json.dumps({"id": f"pmid:{i}{j}", "text": t}) for j, t in enumerate(texts[2 * i : 2 * i + 2])]
        (folder / f"part-{i:06d}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "parts.json").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def pubmedqa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pubmedqa")
    items = {str(1000 + i): {"QUESTION": q, "CONTEXTS": [c], "LABELS": ["RESULTS"], "LONG_ANSWER": c,
                             "final_decision": d}
             for i, (q, c, d) in enumerate([("Does metformin lower glucose?", "Metformin lowered glucose.", "yes"),
                                            ("Do statins raise cholesterol?", "Statins lowered cholesterol.", "no"),
                                            ("Is coffee protective?", "Results were mixed.", "maybe")])}
    (folder / "ori_pqal.json").write_text(json.dumps(items))
    (folder / "gt.json").write_text(json.dumps({k: v["final_decision"] for k, v in items.items()}))
    return folder


@pytest.fixture(scope="module")
def mixed_report(models, heldout, pubmedqa, repo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rc = main(["--models", str(models["ours"]), str(models["general"]), "--tasks", "bioasq", "lm", "pubmedqa",
               "--bioasq-gold", str(repo_root / GOLD), "--heldout", str(heldout),
               "--pubmedqa-data", str(pubmedqa / "ori_pqal.json"), "--pubmedqa-ground-truth", str(pubmedqa / "gt.json"),
               "--out", str(out), *FAST])
    assert rc == 0
    return out


def test_report_json_has_the_shape_the_pipeline_reads(mixed_report, models, repo_root):
    report = json.loads((mixed_report / "report.json").read_text())
    assert set(report) == {"models", "config", "versions", "baselines", "comparisons", "bootstrap"}
    assert [m["model"] for m in report["models"]] == [str(models["ours"]), str(models["general"])]
    assert report["versions"]["torch"] and report["config"]["tasks"] == ["bioasq", "lm", "pubmedqa"]
    expected = {"bioasq.yesno_accuracy", "bioasq.yesno_macro_f1", "bioasq.factoid_mrr", "bioasq.list_mean_f1",
                "bioasq.rouge2_f1", "bioasq.rougesu4_recall", "pubmedqa.accuracy", "pubmedqa.macro_f1",
                "lm.heldout.bits_per_byte", "lm.heldout.perplexity", "lm.heldout.cross_entropy",
                "lm.bioasq_snippets.bits_per_byte", "lm.bioasq_ideal_answers.perplexity"}
    for entry in report["models"]:
        scores = entry["scores"]
        assert expected <= set(scores) and all(isinstance(v, float) for v in scores.values())
        # the submission is the official JSON and scores as reported
        official = score_files(repo_root / GOLD, mixed_report / entry["submission"]).scores
        assert all(official[k.split(".", 1)[1]] == v for k, v in scores.items() if k.startswith("bioasq."))
    # every model was scored on the very same held-out text (bytes), cut into its own tokens
    sizes = [m["lm_sizes"]["heldout"] for m in report["models"]]
    assert sizes[0]["bytes"] == sizes[1]["bytes"] > 0 and sizes[0]["tokens"] != sizes[1]["tokens"]
    assert json.loads((mixed_report / "config.json").read_text()) == report["config"]
    assert (mixed_report / "report.png").stat().st_size > 10_000


def test_per_token_metrics_are_flagged_across_tokenizers(mixed_report):
    report = json.loads((mixed_report / "report.json").read_text())
    assert [m["tokenizer"]["group"] for m in report["models"]] == ["A", "B"]
    md = (mixed_report / "report.md").read_text()
    assert "NOT comparable across tokenizers" in md and "bits per byte" in md
    ppl = next(line for line in md.splitlines() if line.startswith("| lm.heldout.perplexity †"))
    bpb = next(line for line in md.splitlines() if line.startswith("| lm.heldout.bits_per_byte |"))
    assert "(A)" in ppl and "(B)" in ppl and "**" not in ppl  # no "best" across tokenizers
    assert "**" in bpb


def test_same_tokenizer_models_compare_per_token(models, heldout, tmp_path):
    rc = main(["--models", str(models["ours"]), str(models["ours_hf"]), "--tasks", "lm", "--heldout", str(heldout),
               "--out", str(tmp_path), *FAST])
    assert rc == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert [m["tokenizer"]["group"] for m in report["models"]] == ["A", "A"]
    assert set(report["models"][0]["scores"]) == {f"lm.heldout.{k}" for k in ("cross_entropy", "perplexity",
                                                                              "bits_per_byte")}
    assert report["models"][0]["submission"] is None
    assert "compare directly" in (tmp_path / "report.md").read_text()


def test_bad_arguments_exit_2(models, heldout, tmp_path, capsys, sp_model_path):
    assert main(["--models", str(models["ours"]), "--tasks", "bioasq", "--out", str(tmp_path)]) == 2
    assert "--bioasq-gold" in capsys.readouterr().err
    assert main(["--models", str(tmp_path / "nope"), "--tasks", "lm", "--heldout", str(heldout)]) == 2
    assert "no such model directory" in capsys.readouterr().err
    assert main(["--models", str(models["ours"]), "--tasks", "lm", "--heldout", str(tmp_path)]) == 2
    assert "no *.jsonl files" in capsys.readouterr().err
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("biomamba_model.json", "model.safetensors"):
        (bare / f).write_bytes((models["ours"] / f).read_bytes())
    assert main(["--models", str(bare), "--tasks", "lm", "--heldout", str(heldout)]) == 2
    assert "--tokenizer" in capsys.readouterr().err
    assert main(["--models", str(bare), "--tasks", "lm", "--heldout", str(heldout), "--tokenizer", sp_model_path,
                 "--out", str(tmp_path / "ok"), *FAST]) == 0


def test_heldout_sets_read_in_file_order_with_a_limit(heldout, tmp_path):
    assert read_heldout(heldout, None) == ["Metformin lowers blood glucose.", "Statins inhibit HMG-CoA reductase.",
                                           "Insulin is made in the pancreas.", "p53 is a tumour suppressor."]
    assert read_heldout(heldout, 3)[-1] == "Insulin is made in the pancreas."
    assert read_heldout(heldout / "part-000001.jsonl", None)[0] == "Insulin is made in the pancreas."
    assert heldout_names(["a/test"]) == ["heldout"]
    assert heldout_names(["a/test", "b/test", "c/pubmed.jsonl"]) == ["heldout_test", "heldout_test_2", "heldout_pubmed"]


def test_answer_writes_a_submission_for_a_test_batch(models, repo_root, tmp_path, capsys):
    """`python -m biomamba.eval.bioasq answer`: a batch without answers -> official JSON that scores."""
    from biomamba.eval.bioasq.__main__ import main as bioasq_main

    fixture = repo_root / "tests/fixtures/eval"
    out = tmp_path / "sub.json"
    rc = bioasq_main(["answer", "--model", str(models["general"]), "--questions", str(fixture / "dev.json"),
                      "--out", str(out), "--no-ideal-answers", "--max-prompt-tokens", "96", "--device", "cpu"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["answered"] == 60
    submitted = json.loads(out.read_text())["questions"]
    assert len(submitted) == 60 and {q["exact_answer"] for q in submitted} <= {"yes", "no"}
    assert score_files(fixture / "dev_golden.json", out).counts["missing"] == 0
    assert bioasq_main(["answer", "--model", str(tmp_path), "--questions", str(fixture / "dev.json"),
                        "--out", str(out)]) == 2


def test_a_non_mamba_hf_model_is_compared_too(models, heldout, tokenizer, tmp_path):
    """A general-domain transformer (here a tiny GPT-2) with its own tokenizer.json."""
    transformers = pytest.importorskip("transformers")
    gpt2 = tmp_path / "gpt2"
    cfg = transformers.GPT2Config(vocab_size=1000, n_positions=256, n_embd=32, n_layer=1, n_head=2,
                                  eos_token_id=tokenizer.eos_id, bos_token_id=tokenizer.eos_id)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(gpt2)
    tokenizer.save_hf_files(gpt2)
    out = tmp_path / "report"
    assert main(["--models", str(models["ours"]), str(gpt2), "--tasks", "lm", "--heldout", str(heldout),
                 "--out", str(out), *FAST]) == 0
    report = json.loads((out / "report.json").read_text())
    other = report["models"][1]
    assert other["kind"] == "hf-causal-lm" and other["tokenizer"]["kind"] == "hf-json"
    assert other["tokenizer"]["group"] == "A"  # the same vocabulary as ours, exported as tokenizer.json
    assert other["lm_sizes"]["heldout"] == report["models"][0]["lm_sizes"]["heldout"]
    assert other["scores"]["lm.heldout.bits_per_byte"] > 0
