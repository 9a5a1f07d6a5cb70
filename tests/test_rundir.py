"""biomamba.rundir: the run-directory layout, the tag-dir test and the one tag-resolution rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biomamba.rundir import (
    CheckpointError,
    RunDir,
    checkpoints_dir,
    is_tag_dir,
    is_training_dir,
    read_meta,
    resolve_tag,
    tag_for,
)


class OtherError(RuntimeError):
    pass


def make_run(root: Path, complete=(100, 200), partial=(300,), latest: int | None = 200) -> RunDir:
    run = RunDir(root)
    for step in (*complete, *partial):
        d = run.tag_dir(tag_for(step))
        d.mkdir(parents=True)
        (d / "biomamba_meta.json").write_text(json.dumps({"tag": d.name, "config": {}}))
        (d / "mp_rank_00_model_states.pt").write_bytes(b"")
        if step in complete:
            (d / "COMPLETE").write_bytes(b"")
    if latest is not None:
        run.latest.write_text(tag_for(latest))
    return run


def test_layout_names_are_the_on_disk_contract(tmp_path):
    run = RunDir(tmp_path / "r")
    rel = {k: str(getattr(run, k).relative_to(run.root)) for k in
           ("config", "versions", "metrics", "best", "checkpoints", "latest")}
    assert rel == {"config": "config.yaml", "versions": "versions.json", "metrics": "metrics.jsonl",
                   "best": "best.json", "checkpoints": "checkpoints", "latest": "checkpoints/latest"}
    assert run.tag_dir(tag_for(7)) == run.root / "checkpoints" / "step_00000007"


def test_resolve_latest_and_named_tags(tmp_path):
    run = make_run(tmp_path)
    assert run.resolve() == "step_00000200" == resolve_tag(run.checkpoints, "latest")
    assert run.latest_tag() == "step_00000200"
    assert resolve_tag(run.checkpoints, "step_00000100") == "step_00000100"
    assert run.read_meta("step_00000100")["tag"] == "step_00000100"


@pytest.mark.parametrize("error", [CheckpointError, OtherError])
def test_untrusted_tags_raise_the_callers_error(tmp_path, error):
    run = make_run(tmp_path)
    with pytest.raises(error, match=r"step_00000300 is incomplete \(no COMPLETE marker\)"):
        resolve_tag(run.checkpoints, "step_00000300", error)
    with pytest.raises(error, match=r"checkpoint tag 'step_00000400' not found .*available: \['step_00000100', "
                                    r"'step_00000200', 'step_00000300'\]"):
        resolve_tag(run.checkpoints, "step_00000400", error)
    (run.latest).unlink()
    with pytest.raises(error, match="no 'latest' file in .*: the run never completed a checkpoint; name a tag"):
        resolve_tag(run.checkpoints, "latest", error)
    assert run.latest_tag(error) is None


def test_read_meta_errors_name_the_file(tmp_path):
    with pytest.raises(OtherError, match=r"biomamba_meta.json is missing: not a BioMamba training checkpoint"):
        read_meta(tmp_path, OtherError)
    (tmp_path / "biomamba_meta.json").write_text("{")
    with pytest.raises(CheckpointError, match=r"biomamba_meta.json is not valid JSON .*the checkpoint is corrupt"):
        read_meta(tmp_path)


def test_tag_dir_run_dir_and_export_are_told_apart(tmp_path):
    run = make_run(tmp_path / "run")
    tag = run.tag_dir("step_00000100")
    assert is_tag_dir(tag) and not is_tag_dir(run.root) and not is_tag_dir(run.checkpoints)
    assert is_training_dir(run.root) and is_training_dir(run.checkpoints) and is_training_dir(tag)
    export = tmp_path / "hf"
    export.mkdir()
    (export / "config.json").write_text("{}")
    (export / "biomamba_meta.json").write_text("{}")  # exports carry the training record too
    assert not is_tag_dir(export) and not is_training_dir(export)
    assert checkpoints_dir(run.root) == checkpoints_dir(run.checkpoints) == run.checkpoints
    with pytest.raises(OtherError, match="neither a training run directory nor its checkpoints/ folder"):
        checkpoints_dir(export, OtherError)


def test_best_tag(tmp_path):
    run = make_run(tmp_path)
    assert run.best_tag() is None
    run.best.write_text(json.dumps({"tag": "step_00000100", "step": 100, "metric": "val_loss", "value": 1.0}))
    assert run.best_tag() == "step_00000100"
