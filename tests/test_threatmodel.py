"""Threat models: validation (ids, references, ATLAS ids), coverage, Markdown, diagram, Navigator layer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib
import pytest

from labkit.threats.catalogue import entry
from labkit.threats.cheque_reader import STAGES, ZONES, reference_model, system
from labkit.threats.classes import ATTACK_CLASSES
from labkit.threats.threatmodel import Threat, ThreatModelError, coverage, crossings, problems, validate_model
from labkit.threats.threatmodel_render import (
    draw_dataflow,
    navigator_layer,
    save_navigator_layer,
    to_markdown,
)

matplotlib.use("Agg")


def with_threats(*threats: Threat):
    model = reference_model()
    return dataclasses.replace(model, threats=threats)


def test_the_reference_model_is_consistent_and_covers_the_catalogue_end_to_end():
    model = reference_model()
    assert problems(model) == []
    assert all(coverage(model)[key] for key in ATTACK_CLASSES)
    touched = {x for t in model.threats for x in t.targets}
    flows = {f.id: f for f in model.flows}
    for stage, component in STAGES.items():
        near = {component} | {
            f for f in touched if f in flows and component in (flows[f].source, flows[f].target)
        }
        assert near & touched, f"no threat reaches the {stage} stage"
    for threat in model.threats:
        listed = set(entry(threat.attack).atlas)
        assert listed & set(threat.atlas) or any(
            i.split(".")[0] + "." + i.split(".")[1] in listed for i in threat.atlas
        )


def test_a_mistyped_atlas_id_is_reported_with_the_nearest_valid_ones():
    bad = Threat("T1", "t", "poisoning", ("AML.T0020", "AML.T0043.04"), ("C2",), ("M1",))
    found = problems(with_threats(bad))
    assert len(found) == 1 and "AML.T0043.04" in found[0] and "AML.T0043.004" in found[0]
    with pytest.raises(ThreatModelError, match="1 problem"):
        validate_model(with_threats(bad))


def test_every_problem_is_listed_at_once():
    bad = (
        Threat("T1", "t", "evasion", (), ("C99",), ()),
        Threat("T1", "u", "poisoning", ("AML.T0020",), ("C2",), ("M99",)),
    )
    found = "\n".join(problems(with_threats(*bad)))
    for words in (
        "'evasion'",
        "cites no ATLAS",
        "unknown 'C99'",
        "no mitigation",
        "'T1' is used twice",
        "'M99'",
    ):
        assert words in found, words


def test_shape_problems_come_first():
    model = dataclasses.replace(system(), threats=("T1",), system="")  # type: ignore[arg-type]
    found = problems(model)
    assert any("system" in p for p in found) and any("threats[0] must be a Threat" in p for p in found)
    with pytest.raises(TypeError, match="model"):
        problems("model")  # type: ignore[arg-type]


def test_crossings_are_flows_between_zones():
    model = reference_model()
    crossed = {f.id for f, a, b in crossings(model)}
    assert "F9" in crossed and "F3" not in crossed and "F7" not in crossed


def test_markdown_names_techniques_and_boundaries():
    text = to_markdown(reference_model())
    assert text.startswith("# Threat model: cheque reader")
    assert "AML.T0020 Poison Training Data" in text and "Internet -> Bank DMZ" in text and "SR-1" in text


def test_diagram_draws_every_element_and_flow():
    figure = draw_dataflow(reference_model(), zones=ZONES)
    texts = {t.get_text() for t in figure.axes[0].texts}
    assert {"F1", "F12"} <= texts and any("(C5)" in t for t in texts)
    with pytest.raises(ValueError, match="zones"):
        draw_dataflow(reference_model(), zones=ZONES[:-1])


def test_navigator_layer_has_the_pinned_version_and_scores(tmp_path: Path):
    layer = navigator_layer(reference_model())
    assert layer["domain"] == "atlas-atlas" and layer["versions"]["atlas"] == "5.6.0"
    scores = {t["techniqueID"]: t["score"] for t in layer["techniques"]}
    assert scores["AML.T0010.001"] == 2 and scores["AML.T0020"] == 1
    assert "T1:" in next(t["comment"] for t in layer["techniques"] if t["techniqueID"] == "AML.T0020")
    path = save_navigator_layer(reference_model(), tmp_path / "layer.json", name="mine")
    assert json.loads(path.read_text())["name"] == "mine"


def test_renderers_refuse_a_model_with_problems():
    bad = with_threats(Threat("T1", "t", "poisoning", ("AML.T9999",), ("C2",), ("M1",)))
    for render in (to_markdown, draw_dataflow, navigator_layer):
        with pytest.raises(ThreatModelError, match="AML.T9999"):
            render(bad)
