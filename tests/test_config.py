"""The run configuration: JSON round trip, validation with plain messages, unknown keys."""

import json

import pytest

from tlcore.config import TrainConfig
from tlcore.errors import TLError


def test_round_trips_through_json():
    cfg = TrainConfig(data="/d", model="resnet18", trainable_stages=2, epochs=7, augment="strong",
                      lr=1e-4, seed=42, label_smoothing=0.0, early_stopping=3, evaluation="holdout",
                      recipe="fastest")
    again = TrainConfig.from_json(json.loads(cfg.dumps()))
    assert again == cfg
    assert again.is_resolved and not TrainConfig(data="/d").is_resolved


def test_unknown_keys_are_rejected():
    data = TrainConfig(data="/d").to_json() | {"learning_rate": 0.1}
    with pytest.raises(TLError, match="learning_rate"):
        TrainConfig.from_json(data)


@pytest.mark.parametrize("field,value,words", [
    ("epochs", 0, "Epochs"), ("lr", -1.0, "Learning rate"), ("augment", "heavy", "Augmentation"),
    ("trainable_stages", -1, "Stages to train"), ("device", "tpu", "Device"),
    ("val_fraction", 0.9, "validation share"), ("image_size", 8, "Image size"),
    ("batch_size", 0, "Batch size"), ("label_smoothing", 1.0, "Label smoothing"),
])
def test_bad_values_get_a_plain_message(field, value, words):
    with pytest.raises(TLError, match=words):
        TrainConfig(data="/d", **{field: value})


def test_data_is_required():
    with pytest.raises(TLError, match="images to train on"):
        TrainConfig(data="")
