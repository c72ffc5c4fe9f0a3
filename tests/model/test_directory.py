"""Loading checks the whole model directory and names what is wrong."""

import json
import logging
import shutil

import pytest

from pipeline.errors import ModelDirError
from pipeline.model.directory import current_model_dir, load_model
from pipeline.text.normalise import NORMALISER_VERSION


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "hostile" / "linear-1")


@pytest.mark.parametrize(
    "missing", ["weights.safetensors", "vocabulary.json", "metrics.json", "README.md"]
)
def test_a_directory_missing_a_part_is_refused_naming_the_part(model_copy, missing):
    (model_copy / missing).unlink()
    with pytest.raises(ModelDirError, match=missing) as err:
        load_model(model_copy)
    assert "expected" in str(err.value) and "retrain" in str(err.value)


def test_missing_config_and_foreign_directories_are_refused(model_copy, tmp_path):
    (model_copy / "config.json").unlink()
    with pytest.raises(ModelDirError, match=r"config\.json"):
        load_model(model_copy)
    with pytest.raises(ModelDirError, match="no such directory"):
        load_model(tmp_path / "nowhere")


def test_damaged_config_is_refused_with_the_json_error(model_copy):
    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(ModelDirError, match="JSONDecodeError"):
        load_model(model_copy)


def test_weights_that_do_not_match_the_vocabulary_are_refused(model_copy):
    vocab = json.loads((model_copy / "vocabulary.json").read_text())
    vocab["word"] = vocab["word"][:-5]
    (model_copy / "vocabulary.json").write_text(json.dumps(vocab))
    with pytest.raises(ModelDirError, match="damaged"):
        load_model(model_copy)


def test_current_names_the_promoted_model(tiny_models_root):
    assert current_model_dir(tiny_models_root, "hostile").name == "linear-1"
    with pytest.raises(ModelDirError, match="CURRENT"):
        current_model_dir(tiny_models_root, "false")


def test_a_model_of_an_older_normaliser_loads_with_a_warning_to_retrain(model_copy, caplog):
    config = json.loads((model_copy / "config.json").read_text(encoding="utf-8"))
    assert config["normaliser"]["version"] == NORMALISER_VERSION
    with caplog.at_level(logging.WARNING, logger="pipeline.model.directory"):
        load_model(model_copy)
    assert not caplog.records

    config["normaliser"]["version"] = "1"
    (model_copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="pipeline.model.directory"):
        model = load_model(model_copy)
    assert model.predict(["Hôm nay trời đẹp"]) == ["clean"]
    [record] = caplog.records
    assert f"kiemtin-normalise v1, this code runs v{NORMALISER_VERSION}" in record.getMessage()
    assert "hostile/linear-1" in record.getMessage() and "retrain" in record.getMessage()
