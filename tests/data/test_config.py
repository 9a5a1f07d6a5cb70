import pytest
import yaml

from biomamba.config import ConfigError, load_config
from biomamba.data import DataConfig, DatasetConfig


def test_yaml_with_a_mixture(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "datasets": [
                    {"path": "/d/pubmed/train", "weight": 0.7},
                    {"path": "/d/pmc/train", "weight": 0.3, "name": "pmc"},
                ],
                "val_path": "/d/pubmed/val",
                "seq_len": 4096,
            }
        )
    )
    cfg = load_config(DataConfig, path, ["num_workers=4", "verify=always", "max_tokens=1e9"])
    assert [d.resolved_name() for d in cfg.datasets] == ["pubmed/train", "pmc"]
    assert cfg.num_workers == 4 and cfg.max_tokens == 10**9 and cfg.verify == "always"
    assert DataConfig(datasets=[DatasetConfig(path="x")]).logical_streams == 64
    assert DatasetConfig(path="/d/pmc/train/manifest.json").resolved_name() == "pmc/train"


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"datasets": []}, r"data\.datasets: empty"),
        ({"datasets": [DatasetConfig(path="")]}, r"data\.datasets\[0\]\.path: empty"),
        ({"datasets": [DatasetConfig(path="a", weight=0)]}, r"data\.datasets\[0\]\.weight"),
        ({"datasets": [DatasetConfig(path="a", weight=float("nan"))]}, r"data\.datasets\[0\]\.weight"),
        ({"datasets": [DatasetConfig(path="x/a")] * 2}, r"data\.datasets\[1\]\.name: 'x/a' is also"),
        ({"seq_len": 0}, r"data\.seq_len: must be >= 1"),
        ({"micro_batch_size": 0}, r"data\.micro_batch_size"),
        ({"val_micro_batch_size": 0}, r"data\.val_micro_batch_size"),
        ({"num_workers": -1}, r"data\.num_workers"),
        ({"shuffle_buffer": -1}, r"data\.shuffle_buffer"),
        ({"seed": -3}, r"data\.seed"),
        ({"max_tokens": 0}, r"data\.max_tokens"),
        ({"logical_streams": 0}, r"data\.logical_streams: must be >= 1"),
    ],
)
def test_errors_name_the_key(changes, message):
    base = {"datasets": [DatasetConfig(path="/d/a")]}
    with pytest.raises(ConfigError, match=message):
        DataConfig(**{**base, **changes}).validate()


def test_unknown_verify_mode_is_rejected():
    with pytest.raises(ConfigError, match=r"verify.*not one of"):
        DataConfig.from_dict({"datasets": [{"path": "a"}], "verify": "sometimes"})
