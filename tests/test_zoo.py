"""The model zoo: accuracy on the shipped split, hash verification, metadata."""

from __future__ import annotations

import pytest
import torch

from labkit.data import load_clinic, load_digits
from labkit.integrity import IntegrityError
from labkit.models import DigitsCNN
from labkit.training import accuracy
from labkit.zoo.registry import SPECS, load_model, model_card
from tests.helpers import copy_datasets


def test_digits_cnn_meets_its_accuracy_bar():
    x, y = load_digits("test")
    measured = accuracy(load_model("digits_cnn", device="cpu"), x, y)
    assert measured >= 0.97
    assert measured == pytest.approx(model_card("digits_cnn")["test_accuracy"], abs=1e-3)


def test_clinic_mlp_is_a_useful_model():
    x, y = load_clinic("test")
    assert accuracy(load_model("clinic_mlp", device="cpu"), x, y) >= 0.9


@pytest.mark.parametrize("name", sorted(SPECS))
def test_model_cards_record_provenance(name):
    card = model_card(name)
    for key in (
        "architecture",
        "config",
        "data_sha256",
        "seed",
        "test_accuracy",
        "command",
        "weights_sha256",
    ):
        assert key in card, key
    assert card["command"] == f"labkit zoo train {name}"


def test_models_take_inputs_in_unit_range():
    model = DigitsCNN()
    out = model(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert model.features(torch.rand(2, 1, 28, 28)).shape == (2, 128)


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    files = ("models/digits_cnn.safetensors", "models/digits_cnn.json")
    target = copy_datasets(tmp_path, *files)
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    load_model("digits_cnn", device="cpu")
    blob = bytearray((target / files[0]).read_bytes())
    blob[-10] ^= 0x01
    (target / files[0]).write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="has been altered"):
        load_model("digits_cnn", device="cpu")


def test_unknown_model_lists_the_zoo():
    with pytest.raises(KeyError, match="digits_cnn"):
        load_model("resnet50")


def test_train_zoo_model_refuses_a_bad_name_or_root_before_training(tmp_path):
    from labkit.zoo.registry import train_zoo_model

    with pytest.raises(KeyError, match="No zoo model named .no_such_model. .the name argument.. Available: "):
        train_zoo_model("no_such_model")
    with pytest.raises(TypeError, match="root must be a path"):
        train_zoo_model("clinic_mlp", root=3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="root .* is not a directory"):
        train_zoo_model("clinic_mlp", root=tmp_path / "missing")


@pytest.mark.parametrize(
    "recipe",
    ["train_digits_cnn", "train_clinic_mlp", "train_digits_cnn_robust", "train_digits_cnn_backdoored"],
)
def test_recipes_refuse_bad_arguments_before_loading_data_or_training(recipe, monkeypatch):
    from labkit.zoo import recipes

    def no_data(*args, **kwargs):
        raise AssertionError("the recipe loaded data before checking its arguments")

    monkeypatch.setattr(recipes, "load_digits", no_data)
    monkeypatch.setattr(recipes, "load_clinic", no_data)
    monkeypatch.setattr(recipes, "suspect_training_set", no_data)
    train = getattr(recipes, recipe)
    with pytest.raises(TypeError, match="model must be a torch model"):
        train("digits_cnn", seed=0)
    for seed in (-1, 2.5, "0"):
        with pytest.raises((TypeError, ValueError), match="seed must be"):
            train(torch.nn.Linear(2, 2), seed=seed)


@pytest.mark.parametrize("build", ["build_digits", "build_clinic"])
def test_databuild_refuses_a_bad_root_before_building(build, tmp_path):
    from labkit.zoo import databuild

    with pytest.raises(TypeError, match="root must be a path"):
        getattr(databuild, build)(3)
    with pytest.raises(FileNotFoundError, match="root .* is not a directory"):
        getattr(databuild, build)(tmp_path / "missing")
