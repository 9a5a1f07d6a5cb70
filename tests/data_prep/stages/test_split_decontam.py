"""``split``: deterministic assignment, evaluation-document exclusion, parts; the exclusion readers."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from data_prep.cli import main
from data_prep.config import SplitConfig
from data_prep.stages.split.decontam import ExclusionFileError, bioasq_pmids, id_list, load_exclusions, pubmedqa_pmids
from data_prep.stages.split.split import read_parts, split, split_of

from ..conftest import assert_balanced, read_jsonl


def test_readers(fx, tmp_path):
    assert bioasq_pmids(fx / "bioasq_sample.json") == {"1001", "1002", "1004", "1008"}
    assert pubmedqa_pmids(fx / "pubmedqa_sample.json") == {"1007", "1020"}
    assert id_list(fx / "exclude_pmids.txt") == ({"1015", "1011"}, {"PMC1000002"})
    assert id_list(fx / "bioasq_sample.json")[0] == {"1001", "1002", "1004", "1008"}  # JSON auto-detected
    (tmp_path / "bad.txt").write_text("1001\nnot-an-id\n")
    with pytest.raises(ExclusionFileError, match="bad.txt:2"):
        id_list(tmp_path / "bad.txt")
    (tmp_path / "q.json").write_text(json.dumps([{"pubid": 77}, {"pmid": "78"}]))
    assert pubmedqa_pmids(tmp_path / "q.json") == {"77", "78"}
    with pytest.raises(ExclusionFileError):
        bioasq_pmids(fx / "pubmedqa_sample.json")


def test_real_pubmedqa_files(samples_dir):
    labels = pubmedqa_pmids(samples_dir / "pubmedqa" / "test_ground_truth.json")
    questions = pubmedqa_pmids(samples_dir / "pubmedqa" / "ori_pqal_test500_subset.json")
    assert len(labels) == 500 and labels == questions


def test_split_is_a_pure_function_of_the_id():
    fr = {"train": 0.8, "val": 0.1, "test": 0.1}
    counts = Counter(split_of(f"pmid:{i}", fr, "salt") for i in range(20000))
    assert abs(counts["train"] / 20000 - 0.8) < 0.02 and abs(counts["val"] / 20000 - 0.1) < 0.01
    assert split_of("pmid:42", fr, "salt") == split_of("pmid:42", dict(fr), "salt")
    assert any(split_of(f"pmid:{i}", fr, "salt") != split_of(f"pmid:{i}", fr, "other") for i in range(50))


def test_exclusions_and_parts(fx, tmp_path, small_corpus):
    out = tmp_path / "split"
    args = ["split", str(small_corpus), "--out", str(out), "--fractions", "train=0.8,val=0.1,test=0.1",
            "--shard-mb", "0.1", "--exclude-pubmedqa", str(tmp_path / "qa.json")]
    plan_pmids = [r["pmid"] for r in read_jsonl(small_corpus)][:5]
    (tmp_path / "qa.json").write_text(json.dumps({p: {"QUESTION": "?"} for p in plan_pmids[:3]}))
    (tmp_path / "ids.txt").write_text("\n".join(plan_pmids[3:5]) + "\n")
    assert main(args + ["--exclude-pmids", str(tmp_path / "ids.txt")]) == 0
    d = assert_balanced(out / "stats.json")
    assert d["dropped"] == {"eval_excluded": 5}
    assert sum(s["excluded"] for s in d["info"]["splits"].values()) == 5
    seen = []
    for name in ("train", "val", "test"):
        parts = read_parts(out / name)
        assert parts["documents"] == d["info"]["splits"][name]["documents"]
        for p in parts["parts"]:
            recs = read_jsonl(out / name / p["name"])
            assert len(recs) == p["documents"]
            assert all(split_of(r["id"], {"train": 0.8, "val": 0.1, "test": 0.1}, "biomamba-split-v1") == name for r in recs)
            seen += [r["pmid"] for r in recs]
    assert len(read_parts(out / "train")["parts"]) > 1  # cut by the size estimate
    assert not set(plan_pmids) & set(seen)
    assert len(seen) == len(set(seen)) == d["kept"]


def test_rerun_replaces_old_parts(tmp_path, small_corpus):
    out = tmp_path / "s"
    split([small_corpus], out, SplitConfig(fractions={"train": 1.0}, shard_mb=0.05), load_exclusions())
    many = len(read_parts(out / "train")["parts"])
    split([small_corpus], out, SplitConfig(fractions={"train": 1.0}, shard_mb=100), load_exclusions())
    assert many > 1 and sorted(p.name for p in (out / "train").glob("part-*")) == ["part-000000.jsonl"]


def test_bad_fractions_are_a_usage_error(tmp_path, small_corpus):
    assert main(["split", str(small_corpus), "--out", str(tmp_path), "--fractions", "train=0.5,val=0.2"]) == 2
    assert main(["split", str(small_corpus), "--out", str(tmp_path), "--exclude-pmids", str(tmp_path / "nope")]) == 2


def test_decontamination_is_on_by_default_and_recorded(tmp_path, small_corpus):
    """Issue 14.1: shipped eval sets excluded unless switched off; each split records what was removed."""
    from biomamba.config import ConfigError
    from data_prep.stages.split.decontam import SHIPPED_EVAL_SETS

    shipped = SHIPPED_EVAL_SETS["bioasq"][0]
    assert SplitConfig().exclusion_files()["bioasq_files"] == [shipped]
    assert SplitConfig(exclude_shipped=False).exclusion_files()["bioasq_files"] == []
    with pytest.raises(ConfigError, match="split.exclude_pubmedqa: .*nope.json does not exist"):
        SplitConfig(exclude_pubmedqa=[str(tmp_path / "nope.json")]).validate()
    pmids = [r["pmid"] for r in read_jsonl(small_corpus)][:4]
    (tmp_path / "qa.json").write_text(json.dumps({p: {"QUESTION": "?"} for p in pmids}))
    out = tmp_path / "split"
    assert main(["split", str(small_corpus), "--out", str(out), "--fractions", "train=0.5,test=0.5",
                 "--exclude-pubmedqa", str(tmp_path / "qa.json")]) == 0
    records = {name: read_parts(out / name)["decontamination"] for name in ("train", "test")}
    for rec in records.values():
        assert [(s["kind"], s["name"], s["ids"]) for s in rec["sets"]] == [("bioasq", "bioasq_sample.json", 0),
                                                                            ("pubmedqa", "qa.json", 4)]
        assert rec["pmids"] == sorted(pmids, key=int) and rec["removed_documents"] == len(rec["removed_ids"])
    removed = records["train"]["removed_ids"] + records["test"]["removed_ids"]
    assert sorted(removed) == sorted(f"pmid:{p}" for p in pmids)
    assert main(["split", str(small_corpus), "--out", str(tmp_path / "kept"), "--keep-shipped-eval"]) == 0
    assert read_parts(tmp_path / "kept" / "train")["decontamination"]["sets"] == []


def test_shard_manifests_carry_the_decontamination_record(prepared_sample, repo_root):
    from biomamba.data.format import read_manifest
    from biomamba.io import sha256_file

    shipped = sha256_file(repo_root / "biomamba/resources/sample/bioasq_sample.json")
    for split_name in ("train", "val", "test"):
        m = read_manifest(prepared_sample / "shards" / split_name)
        assert [s["sha256"] for s in m["decontamination"]["sets"]] == [shipped]


def test_the_cluster_recipe_decontaminates(repo_root):
    """configs/data/pubmed_baseline.yaml and the README recipe name the evaluation sets they report on."""
    from biomamba.config import load_yaml

    split_cfg = load_yaml(repo_root / "configs/data/pubmed_baseline.yaml")["split"]
    assert split_cfg["exclude_bioasq"] and split_cfg["exclude_pubmedqa"] and split_cfg["exclude_shipped"] is True
    readme = (repo_root / "README.md").read_text()
    recipe = readme.split("## A real run on a Slurm cluster", 1)[1].split("```", 2)[1]
    assert '--split-args "$EXCL"' in recipe and "--exclude-bioasq" in recipe and "--exclude-pubmedqa" in recipe
    evaluated = [line for line in recipe.splitlines() if "slurm/eval.sh" in line][0]
    gold = evaluated.split("--bioasq-gold ", 1)[1].split()[0]
    assert gold in split_cfg["exclude_bioasq"]  # the set the recipe scores is one the data config removes
