"""Correct, stub and plausible-wrong answers for module 01's checks."""

from __future__ import annotations

from labkit.threats.atlas import load_atlas
from labkit.threats.catalogue import CATALOGUE

RIGHT = {
    "I-1": ("adversarial_examples", "integrity", "Verification"),
    "I-2": ("model_stealing", "confidentiality", "Release"),
    "I-3": ("poisoning", "integrity", "Implementation"),
    "I-4": ("membership_inference", "confidentiality", "Release"),
    "I-5": ("supply_chain", "integrity", "Implementation"),
    "I-6": ("backdoored_models", "integrity", "Implementation"),
    "I-7": ("physical_adversarial_examples", "integrity", "Verification"),
    "I-8": ("malicious_provider", "confidentiality", "Implementation"),
}


def classify(incident_id):
    return RIGHT[incident_id]


def confuses_confidentiality_and_integrity(incident_id):
    attack, violates, stage = RIGHT[incident_id]
    return (attack, "integrity" if violates == "confidentiality" else violates, stage)


def stage_where_it_surfaced(incident_id):
    attack, violates, stage = RIGHT[incident_id]
    return (attack, violates, "Response" if stage == "Implementation" else stage)


def backdoor_called_poisoning(incident_id):
    attack, violates, stage = RIGHT[incident_id]
    return ("poisoning" if attack == "backdoored_models" else attack, violates, stage)


def capitalised_property(incident_id):
    attack, violates, stage = RIGHT[incident_id]
    return (attack, violates.capitalize(), stage)


def track_plan(track):
    return {a.key: [m for m in track if m in a.modules] for a in CATALOGUE}


def hides_the_gaps(track):
    plan = {}
    for a in CATALOGUE:
        modules = [m for m in track if m in a.modules]
        if modules:
            plan[a.key] = modules
    return plan


def ignores_the_track(track):
    return {a.key: list(a.modules) for a in CATALOGUE}


def sorts_numerically(track):
    return {a.key: sorted(m for m in track if m in a.modules) for a in CATALOGUE}


def keeps_only_the_first(track):
    return {a.key: [m for m in track if m in a.modules][:1] for a in CATALOGUE}


def matching_case_studies(technique_ids):
    edition = load_atlas()
    wanted = set(technique_ids)
    found = []
    for study in edition.case_studies.values():
        for used in study.techniques:
            if used in wanted or edition.techniques[used].parent in wanted:
                found.append(study.id)
                break
    return found


def exact_ids_only(technique_ids):
    edition = load_atlas()
    return [s.id for s in edition.case_studies.values() if set(s.techniques) & set(technique_ids)]


def collapses_to_parents(technique_ids):
    edition = load_atlas()
    parents = {edition.techniques[i].parent or i for i in technique_ids}
    return [
        s.id
        for s in edition.case_studies.values()
        if {edition.techniques[t].parent or t for t in s.techniques} & parents
    ]


def returns_names(technique_ids):
    edition = load_atlas()
    return [edition.case_studies[i].name for i in matching_case_studies(technique_ids)]


def once_per_technique(technique_ids):
    edition = load_atlas()
    wanted = set(technique_ids)
    return [
        s.id
        for s in edition.case_studies.values()
        for used in s.techniques
        if used in wanted or edition.techniques[used].parent in wanted
    ]


ANSWERS = {
    "01.classify": (
        classify,
        [
            (confuses_confidentiality_and_integrity, "property"),
            (stage_where_it_surfaced, "stage"),
            (backdoor_called_poisoning, "attack class"),
            (capitalised_property, "one of"),
        ],
    ),
    "01.track_plan": (
        track_plan,
        [
            (hides_the_gaps, "gap"),
            (ignores_the_track, "not on the track"),
            (sorts_numerically, "order"),
            (keeps_only_the_first, "every module"),
        ],
    ),
    "01.case_studies": (
        matching_case_studies,
        [
            (exact_ids_only, "sub-technique"),
            (collapses_to_parents, "sibling"),
            (returns_names, "ids"),
            (once_per_technique, "once"),
        ],
    ),
}
