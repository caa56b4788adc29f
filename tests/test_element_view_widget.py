"""Module 02's element explorer: per-element flows, crossings and threats of a threat model, driven from
Python as a learner drives the dropdown."""

from __future__ import annotations

import dataclasses

import pytest

from labkit.threats.cheque_reader import reference_model
from labkit.widgets import element_explorer, element_view, render_element


def test_view_lists_the_elements_flows_and_the_threats_naming_them():
    model = reference_model()
    for element in model.elements():
        view = element_view(model, element.id)
        touching = {f.id for f in model.flows if element.id in (f.source, f.target)}
        assert {f.id for f in view.flows} == touching
        for threat in view.threats:
            assert ({element.id} | touching) & set(threat.targets)
        for flow in view.flows:
            assert set(flow.threats) == {t.id for t in model.threats if flow.id in t.targets}


def test_a_crossing_no_threat_names_is_unguarded_until_a_threat_names_it():
    model = reference_model()
    view = element_view(model, "C1")
    assert view.unguarded == ["F2"] and "**none: unguarded**" in render_element(view)
    first = model.threats[0]
    named = dataclasses.replace(first, targets=(*first.targets, "F2"))
    guarded = dataclasses.replace(model, threats=(named, *model.threats[1:]))
    assert element_view(guarded, "C1").unguarded == []
    assert "a threat names every crossing here" in element_view(guarded, "C1").summary()


def test_the_dropdown_changes_what_the_explorer_shows():
    model = reference_model()
    explorer = element_explorer(model)
    before = explorer.status.value
    assert "C1" in before
    explorer.dropdown.value = "C3"
    assert explorer.status.value != before and "Training pipeline (C3" in explorer.status.value
    assert explorer.view.element == "C3"


def test_unknown_elements_are_refused_with_the_known_ones_named():
    with pytest.raises(ValueError, match="element_id 'C99' is not known: choose one of C1"):
        element_view(reference_model(), "C99")
    with pytest.raises(TypeError, match="model must be a ThreatModel"):
        element_explorer({"not": "a model"})
