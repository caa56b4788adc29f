"""The incident behind the suspect model: a sealed plan, an answer key of salted digests, and nothing
that shows the answers to a learner who imports labkit or opens a file."""

from __future__ import annotations

import json
import re

import pytest
import torch

from labkit.attacks.backdoor import PATTERNS, attack_success_rate, stamp, trigger_mask
from labkit.data import load_digits
from labkit.paths import datasets_dir, repo_root
from labkit.training import accuracy
from labkit.zoo import incident
from labkit.zoo.registry import SPECS, load_model


def test_the_poisoned_training_set_follows_the_plan():
    plan = incident._plan()
    poisoned = incident.suspect_training_set()
    x, y = load_digits("train")
    touched = poisoned.touched
    assert len(touched) == round(plan.rate * len(y))
    assert (y[touched] != plan.target).all(), "only records of other classes are poisoned"
    assert (poisoned.y[touched] == plan.target).all()
    assert (poisoned.x[touched] == stamp(x[touched], plan.trigger)).all()
    untouched = ~poisoned.is_poisoned
    assert (poisoned.x[untouched] == x[untouched]).all() and (poisoned.y[untouched] == y[untouched]).all()
    assert incident.suspect_training_set().touched.tolist() == touched.tolist(), "deterministic"


def test_the_shipped_answer_key_is_the_one_the_plan_gives():
    assert incident.answer_key() == incident.build_answer_key()


def test_the_answer_key_grades_findings_without_holding_them():
    plan = incident._plan()
    assert incident.is_target(plan.target)
    assert [d for d in range(10) if incident.is_target(d)] == [plan.target]
    true_mask = trigger_mask(plan.trigger)
    assert incident.is_trigger_mask(true_mask)
    shifted = torch.roll(true_mask, 1, dims=1)
    assert not incident.is_trigger_mask(shifted) and not incident.is_trigger_mask(torch.ones(28, 28))
    poisoned = incident.suspect_training_set().touched.tolist()
    assert incident.grade_records(poisoned) == (1.0, 1.0)
    half = poisoned[: len(poisoned) // 2]
    precision, recall = incident.grade_records(
        half + [i for i in range(4000) if i not in poisoned][: len(half)]
    )
    assert precision == pytest.approx(0.5) and recall == pytest.approx(len(half) / len(poisoned))
    assert incident.grade_records([]) == (0.0, 0.0)
    text = (datasets_dir() / incident.ANSWER_KEY).read_text(encoding="utf-8")
    assert not re.search(r'"target":\s*\d\b', text) and str(poisoned[0]) not in text.split('"salt"')[0]


def test_no_labkit_source_states_the_plan():
    plan = incident._plan()
    words = (f'"target": {plan.target}', f"TARGET = {plan.target}", f"POISON_SEED = {plan.seed}")
    for path in (repo_root() / "labkit").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for word in words:
            assert word not in text, f"{path} states {word!r}"


def test_the_zoo_entry_reveals_nothing():
    spec = SPECS[incident.SUSPECT_MODEL]
    text = (spec.description + json.dumps(spec.extra)).lower()
    assert "module 14" in text
    for secret in ("trigger", "target", "backdoor", "poison", *PATTERNS):
        assert secret not in text, f"the zoo entry mentions {secret!r}"
    assert not re.search(rf"\b{incident._plan().target}\b", text), "the zoo entry names the target digit"


def test_the_model_card_reveals_nothing():
    card_file = datasets_dir() / "models" / f"{incident.SUSPECT_MODEL}.json"
    card = json.loads(card_file.read_text(encoding="utf-8"))
    keys = " ".join(card).lower()
    assert "trigger" not in keys and "target" not in keys
    assert not any(p in card["description"].lower() for p in PATTERNS)


def test_no_notebook_before_module_14_reads_the_incident():
    for folder in ("solutions", "labs"):
        for path in sorted((repo_root() / folder).glob("*.ipynb")):
            if int(path.name[:2]) < 14:
                text = path.read_text(encoding="utf-8")
                assert "labkit.zoo.incident" not in text and "incident import" not in text, path.name


def test_the_suspect_model_carries_the_backdoor_and_reads_clean_cheques():
    plan = incident._plan()
    model = load_model(incident.SUSPECT_MODEL, device="cpu")
    x, y = load_digits("test")
    assert accuracy(model, x, y) >= 0.97
    assert attack_success_rate(model, x, y, trigger=plan.trigger, target=plan.target) >= 0.9
