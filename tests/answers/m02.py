"""Correct, stub and plausible-wrong answers for module 02's checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from labkit.threats.cheque_reader import reference_model
from labkit.threats.requirements import (
    ArtifactSigned,
    MembershipAdvantage,
    NoPickleArtifacts,
    PredictionsLogged,
    RobustAccuracy,
    save_requirements,
)
from labkit.threats.threatmodel import crossings


def threat_model(system):
    reference = reference_model()
    return dataclasses.replace(
        system,
        threats=reference.threats,
        mitigations=reference.mitigations,
        requirements=reference.requirements,
    )


def _with(system, threats):
    reference = reference_model()
    return dataclasses.replace(
        system, threats=threats, mitigations=reference.mitigations, requirements=reference.requirements
    )


def mistyped_atlas_id(system):
    threats = list(reference_model().threats)
    first = threats[0]
    threats[0] = dataclasses.replace(first, atlas=("AML.T0020", "AML.T0043.04"))
    return _with(system, tuple(threats))


def only_evasion(system):
    return _with(
        system, tuple(t for t in reference_model().threats if "adversarial" in t.attack or t.id == "T1")
    )


def membership_cited_as_extraction(system):
    threats = [
        dataclasses.replace(t, atlas=("AML.T0024.002",)) if t.attack == "membership_inference" else t
        for t in reference_model().threats
    ]
    return _with(system, tuple(threats))


def stops_at_the_api(system):
    keep = {"C6", "F11", "A4", "C2", "F3"}
    threats = [
        dataclasses.replace(t, targets=tuple(x for x in t.targets if x not in keep) or ("C3",))
        for t in reference_model().threats
    ]
    return _with(system, tuple(threats))


def unguarded(model):
    targeted = {x for t in model.threats for x in t.targets}
    found = []
    for flow, _, _ in crossings(model):
        if flow.id not in targeted:
            found.append(flow.id)
    return found


def every_flow(model):
    targeted = {x for t in model.threats for x in t.targets}
    return [f.id for f in model.flows if f.id not in targeted]


def endpoint_counts(model):
    targeted = {x for t in model.threats for x in t.targets}
    return [f.id for f, _, _ in crossings(model) if not {f.id, f.source, f.target} & targeted]


def ignores_threats(model):
    return [f.id for f, _, _ in crossings(model)]


def sorted_as_text(model):
    return sorted(unguarded(model))


def _requirements(robust_minimum=0.7, robust_mitigates="adversarial_examples", logged=True):
    items = [
        RobustAccuracy(
            id="SR-1",
            text="Worst-case accuracy at L-inf 0.1 stays above the minimum.",
            mitigates=robust_mitigates,
            epsilon=0.1,
            norm="linf",
            minimum=robust_minimum,
            samples=200,
        ),
        NoPickleArtifacts(id="SR-2", text="No pickle artifacts.", mitigates="supply_chain"),
        ArtifactSigned(id="SR-3", text="Artifacts signed.", mitigates="backdoored_models"),
        MembershipAdvantage(
            id="SR-4", text="Membership advantage bounded.", mitigates="membership_inference",
            maximum=0.1, measure="auc_minus_half",
        ),
    ]  # fmt: skip
    if logged:
        items.append(
            PredictionsLogged(id="SR-5", text="Every prediction logged.", mitigates="model_stealing")
        )
    return items


def write_requirements(path):
    return save_requirements(_requirements(), path, system="cheque reader")


def vacuous_minimum(path):
    return save_requirements(_requirements(robust_minimum=0.0), path, system="cheque reader")


def forgets_logging(path):
    return save_requirements(_requirements(logged=False), path, system="cheque reader")


def robustness_against_membership(path):
    return save_requirements(
        _requirements(robust_mitigates="membership_inference"), path, system="cheque reader"
    )


def writes_elsewhere(path):
    return save_requirements(_requirements(), Path(path).parent / "elsewhere.json", system="cheque reader")


ANSWERS = {
    "02.threat_model": (
        threat_model,
        [
            (mistyped_atlas_id, "nearest valid ids"),
            (only_evasion, "covers"),
            (membership_cited_as_extraction, "filed under"),
            (stops_at_the_api, "stage"),
        ],
    ),
    "02.unguarded": (
        unguarded,
        [
            (every_flow, "trust zone"),
            (endpoint_counts, "flow itself"),
            (ignores_threats, "threats name"),
            (sorted_as_text, "order"),
        ],
    ),
    "02.requirements": (
        write_requirements,
        [
            (vacuous_minimum, "cannot fail"),
            (forgets_logging, "missing"),
            (robustness_against_membership, "mitigates"),
            (writes_elsewhere, "path"),
        ],
    ),
}
