"""The cheque reader as a system to threat-model (module 02): its components, actors, assets and data
flows from data collection to monitoring, and the course's reference threat model of it.

`system()` is the part the learner is given; `reference_model()` adds the course's threats and
mitigations and the shipped reference requirements (a notebook falls back to it when the exercise is
skipped).
"""

from __future__ import annotations

from labkit.threats.requirements import reference_requirements
from labkit.threats.threatmodel import (
    Actor,
    Asset,
    Component,
    DataFlow,
    Mitigation,
    Threat,
    ThreatModel,
    validate_model,
)

# Trust zones in the order a diagram shows them, from the branches to the internet.
ZONES = ("Bank branches", "Labelling partner", "Bank data centre", "Bank DMZ", "Internet")

# The six stages of the pipeline the threat model must cover end to end (component ids).
STAGES = {
    "data collection": "C1",
    "labelling": "C2",
    "training": "C3",
    "artifact store": "C4",
    "serving API": "C5",
    "monitoring": "C6",
}


def system() -> ThreatModel:
    """The cheque reader without threats: what is built, who touches it, what flows where."""
    components = (
        Component("C1", "Cheque scans store", "Bank data centre", "store"),
        Component("C2", "Labelling tool", "Labelling partner", "process"),
        Component("C3", "Training pipeline", "Bank data centre", "process"),
        Component("C4", "Model artifact store", "Bank data centre", "store"),
        Component("C5", "Prediction API", "Bank DMZ", "process"),
        Component("C6", "Audit log and detectors", "Bank data centre", "process"),
        Component("C7", "Public model hub", "Internet", "external"),
        Component("C8", "Package index", "Internet", "external"),
    )
    actors = (
        Actor("U1", "Branch scanner", "Bank branches", trusted=True),
        Actor("U2", "Labelling contractor", "Labelling partner", trusted=False),
        Actor("U3", "ML engineer", "Bank data centre", trusted=True),
        Actor("U4", "API client (customer or fraudster)", "Internet", trusted=False),
    )
    assets = (
        Asset("A1", "Cheque images and labels (training data)", ("confidentiality", "integrity")),
        Asset("A2", "Model weights", ("confidentiality", "integrity")),
        Asset("A3", "Predicted amounts", ("integrity", "availability")),
        Asset("A4", "Audit log", ("integrity", "availability")),
    )
    flows = (
        DataFlow("F1", "U1", "C1", "scanned cheque images", ("A1",)),
        DataFlow("F2", "C1", "C2", "images to label", ("A1",)),
        DataFlow("F3", "U2", "C2", "labels typed by the contractor", ("A1",)),
        DataFlow("F4", "C2", "C3", "labelled training set", ("A1",)),
        DataFlow("F5", "C7", "C3", "pretrained model", ("A2",)),
        DataFlow("F6", "C8", "C3", "Python packages", ()),
        DataFlow("F7", "C3", "C4", "trained model artifact", ("A2",)),
        DataFlow("F8", "C4", "C5", "model deployed for serving", ("A2",)),
        DataFlow("F9", "U4", "C5", "cheque image to read", ()),
        DataFlow("F10", "C5", "U4", "predicted amount", ("A3",)),
        DataFlow("F11", "C5", "C6", "every request and answer", ("A4",)),
        DataFlow("F12", "U3", "C3", "training code and configuration", ()),
    )
    return ThreatModel("cheque reader", components, actors, assets, flows, (), (), ())


def reference_model() -> ThreatModel:
    """The course's threat model of the cheque reader: one or more threats per catalogue entry."""
    base = system()
    requirements = tuple(reference_requirements())
    threats = (
        Threat("T1", "Contractor flips labels of chosen digits", "poisoning",
               ("AML.T0020", "AML.T0059"), ("F3", "C2", "A1"), ("M1", "M2")),
        Threat("T2", "Insider plants a trigger that forces a chosen digit", "backdoored_models",
               ("AML.T0018.000", "AML.T0043.004"), ("C3", "C4", "A2"), ("M2", "M3")),
        Threat("T3", "Pretrained model from the hub runs code when loaded", "supply_chain",
               ("AML.T0010.003", "AML.T0011.000"), ("F5", "C3"), ("M4", "M3")),
        Threat("T4", "Typosquatted package in the training environment", "software_dependencies",
               ("AML.T0010.001", "AML.T0011.001"), ("F6", "C3"), ("M5",)),
        Threat("T5", "Fraudster alters the amount so the reader misreads it", "adversarial_examples",
               ("AML.T0015", "AML.T0043.001", "AML.T0043.002"), ("F9", "C5", "A3"), ("M6", "M8")),
        Threat("T6", "Printed patch on the cheque forces a digit", "physical_adversarial_examples",
               ("AML.T0041", "AML.T0043.000"), ("U1", "F1", "A3"), ("M6", "M7")),
        Threat("T7", "Competitor copies the model through the API", "model_stealing",
               ("AML.T0024.002", "AML.T0040"), ("F10", "C5", "A2"), ("M8", "M9")),
        Threat("T8", "Attacker learns whose cheques were in the training set", "membership_inference",
               ("AML.T0024.000",), ("F10", "A1"), ("M8", "M10")),
        Threat("T9", "Attacker reconstructs typical handwriting of the training set", "model_inversion",
               ("AML.T0024.001",), ("F10", "A1"), ("M8", "M10")),
        Threat("T10", "Attacker repurposes the API for their own task", "reprogramming",
               ("AML.T0043", "AML.T0034"), ("F9", "C5"), ("M9", "M11")),
        Threat("T11", "Third-party training code hides data in the weights", "malicious_provider",
               ("AML.T0010.001", "AML.T0024.001"), ("C3", "F12", "A1"), ("M5", "M10")),
        Threat("T12", "Decision-based attack spread over many clients to stay under the detectors",
               "adversarial_examples", ("AML.T0043.001", "AML.T0042"), ("C6", "F11", "A4"), ("M8", "M9")),
    )  # fmt: skip
    mitigations = (
        Mitigation("M1", "Provenance manifest of the training data; audited labelling"),
        Mitigation("M2", "Filter suspicious training records; scan the model for backdoors"),
        Mitigation("M3", "Sign model artifacts in the pipeline; verify before serving", ("SR-3",)),
        Mitigation("M4", "Safetensors only; scan every artifact", ("SR-2",)),
        Mitigation("M5", "Locked, hash-pinned dependencies; reviewed training code; an SBOM"),
        Mitigation("M6", "Adversarial training; worst-case robustness gate", ("SR-1",)),
        Mitigation("M7", "Human review of high-value cheques"),
        Mitigation("M8", "Return the label only; rate limits and query budgets"),
        Mitigation("M9", "Append-only audit log of every request; extraction detectors", ("SR-5",)),
        Mitigation("M10", "Regularisation or DP training; measured membership advantage", ("SR-4",)),
        Mitigation("M11", "Validate inputs at the model boundary"),
    )
    model = ThreatModel(
        base.system, base.components, base.actors, base.assets, base.flows, threats, mitigations, requirements
    )
    return validate_model(model)
