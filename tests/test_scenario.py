"""The incident's hidden ground truth: consistent, and never shown to learners before module 14."""

from __future__ import annotations

import json
import re

import pytest

from labkit import scenario
from labkit.data import load_digits
from labkit.paths import datasets_dir, repo_root
from labkit.poisoning import PATTERNS, attack_success_rate, stamp
from labkit.training import accuracy
from labkit.zoo import SPECS, load_model


def test_ground_truth_matches_the_poisoned_training_set():
    truth = scenario.ground_truth()
    poisoned = scenario.suspect_training_set()
    x, y = load_digits("train")
    assert truth.model == scenario.SUSPECT_MODEL in SPECS
    assert 0 <= truth.target <= 9
    assert len(truth.poisoned_records) == round(truth.poison_rate * len(y))
    assert truth.poisoned_records.tolist() == poisoned.touched.tolist()
    touched = truth.poisoned_records
    assert (y[touched] != truth.target).all(), "only records of other classes are poisoned"
    assert (poisoned.y[touched] == truth.target).all()
    assert (poisoned.x[touched] == stamp(x[touched], truth.trigger)).all()
    untouched = ~poisoned.is_poisoned
    assert (poisoned.x[untouched] == x[untouched]).all() and (poisoned.y[untouched] == y[untouched]).all()


def test_ground_truth_is_deterministic():
    first, second = scenario.ground_truth(), scenario.ground_truth()
    assert first.poisoned_records.tolist() == second.poisoned_records.tolist()
    assert (first.trigger.pattern == second.trigger.pattern).all()


def test_the_zoo_entry_reveals_nothing():
    spec = SPECS[scenario.SUSPECT_MODEL]
    text = (spec.description + json.dumps(spec.extra)).lower()
    assert "module 14" in text
    for secret in ("trigger", "target", "backdoor", "poison", *PATTERNS):
        assert secret not in text, f"the zoo entry mentions {secret!r}"
    assert not re.search(rf"\b{scenario.TARGET}\b", text), "the zoo entry names the target digit"


def test_the_model_card_reveals_nothing():
    card_file = datasets_dir() / "models" / f"{scenario.SUSPECT_MODEL}.json"
    if not card_file.is_file():
        pytest.skip("the suspect model has not been trained yet (`labkit zoo train digits_cnn_backdoored`)")
    card = json.loads(card_file.read_text(encoding="utf-8"))
    keys = " ".join(card).lower()
    assert "trigger" not in keys and "target" not in keys
    assert not any(p in card["description"].lower() for p in PATTERNS)


def test_no_notebook_before_module_14_reads_the_ground_truth():
    for folder in ("solutions", "labs"):
        for path in sorted((repo_root() / folder).glob("*.ipynb")):
            if int(path.name[:2]) < 14:
                text = path.read_text(encoding="utf-8")
                assert "labkit.scenario" not in text and "scenario import" not in text, path.name


def test_the_suspect_model_carries_the_backdoor_and_reads_clean_cheques():
    if not (datasets_dir() / "models" / f"{scenario.SUSPECT_MODEL}.safetensors").is_file():
        pytest.skip("the suspect model has not been trained yet (`labkit zoo train digits_cnn_backdoored`)")
    truth = scenario.ground_truth()
    model = load_model(scenario.SUSPECT_MODEL, device="cpu")
    x, y = load_digits("test")
    assert accuracy(model, x, y) >= 0.97
    assert attack_success_rate(model, x, y, trigger=truth.trigger, target=truth.target) >= 0.9
