"""Hidden tests for module 02 (threat-model the cheque reader, write security requirements)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

MIN_COVERED = 9  # catalogue classes a complete threat model of the cheque reader considers (of 11)
# Which catalogue entries each kind of requirement can honestly claim to mitigate.
MITIGATES = {
    "robust_accuracy": {"adversarial_examples", "physical_adversarial_examples"},
    "no_pickle_artifacts": {
        "supply_chain",
        "software_dependencies",
        "backdoored_models",
        "malicious_provider",
    },
    "artifact_signed": {"supply_chain", "backdoored_models", "poisoning", "malicious_provider"},
    "membership_advantage": {"membership_inference", "model_inversion", "malicious_provider"},
    "predictions_logged": {
        "model_stealing",
        "adversarial_examples",
        "membership_inference",
        "model_inversion",
        "reprogramming",
    },
}


def _family(technique_id: str) -> str:
    return ".".join(technique_id.split(".")[:2])


@exercise(
    "02.threat_model",
    title="threat-model the cheque reader end to end",
    hint="Walk the data flows from the branch scanner to the audit log. For each component ask which "
    "catalogue attacks need the access that crosses into it, cite the ATLAS techniques the catalogue "
    "gives for that attack, and answer every threat with a mitigation.",
)
def _check_threat_model(threat_model: Any) -> str:
    from labkit.threats.catalogue import entry
    from labkit.threats.cheque_reader import STAGES, system
    from labkit.threats.threatmodel import ThreatModel, coverage, problems

    given = system()
    model = threat_model(given)
    if not isinstance(model, ThreatModel):
        raise CheckFailed(f"it should return a ThreatModel, got {type(model).__name__}.")
    if (model.components, model.actors, model.flows) != (given.components, given.actors, given.flows):
        raise CheckFailed(
            "keep the system as given (components, actors, flows) and add threats and mitigations."
        )
    found = problems(model)
    if found:
        shown = "\n   ".join(found[:4])
        raise CheckFailed(f"the model has {len(found)} problem(s):\n   {shown}")
    covered = {key for key, threats in coverage(model).items() if threats}
    if len(covered) < MIN_COVERED:
        missing = [key for key in coverage(model) if key not in covered]
        raise CheckFailed(
            f"the model covers {len(covered)} of {len(coverage(model))} catalogue classes (at least "
            f"{MIN_COVERED} apply to the cheque reader); not yet considered: {', '.join(missing)}."
        )
    for threat in model.threats:
        listed = entry(threat.attack).atlas
        if not set(threat.atlas) & set(listed) and not {_family(i) for i in threat.atlas} & set(listed):
            raise CheckFailed(
                f"threat {threat.id} is filed under {threat.attack} but cites only techniques the catalogue "
                f"links to other attacks ({', '.join(threat.atlas)})."
            )
    flows = {f.id: f for f in model.flows}
    reached: set[str] = set()
    for threat in model.threats:
        for target in threat.targets:
            reached.add(target)
            if target in flows:
                reached |= {flows[target].source, flows[target].target}
    unreached = [f"{stage} ({cid})" for stage, cid in STAGES.items() if cid not in reached]
    if unreached:
        raise CheckFailed(
            f"no threat reaches the {', '.join(unreached)} stage: the model must cover end to end."
        )
    return (
        f"{len(model.threats)} threats cover {len(covered)} of {len(coverage(model))} catalogue classes and "
        f"all {len(STAGES)} stages; every ATLAS id exists and every threat is mitigated."
    )


def _reference_unguarded(model: Any) -> list[str]:
    from labkit.threats.threatmodel import crossings

    targeted = {x for t in model.threats for x in t.targets}
    return [flow.id for flow, _, _ in crossings(model) if flow.id not in targeted]


@exercise(
    "02.unguarded",
    title="find the trust-boundary crossings no threat looks at",
    hint="A flow crosses a trust boundary when its two ends sit in different zones. It is looked at when a "
    "threat names that flow itself among its targets. Keep the model's order.",
)
def _check_unguarded(unguarded: Any) -> str:
    import dataclasses

    from labkit.threats.cheque_reader import reference_model

    full = reference_model()
    variants = [
        full,
        dataclasses.replace(full, threats=full.threats[:4]),
        dataclasses.replace(
            full, threats=tuple(t for t in full.threats if t.attack != "adversarial_examples")
        ),
        dataclasses.replace(full, threats=()),
    ]
    for model in variants:
        expected = _reference_unguarded(model)
        got = unguarded(model)
        if not isinstance(got, list) or not all(isinstance(g, str) for g in got):
            raise CheckFailed(f"it should return a list of flow ids (strings), got {got!r}.")
        inside = [
            g for g in got if g in {f.id for f in model.flows} and g not in {f.id for f, *_ in _cross(model)}
        ]
        if inside:
            raise CheckFailed(f"it lists {', '.join(inside)}, which stay inside one trust zone: no boundary.")
        if set(got) < set(expected):
            raise CheckFailed(
                "it misses crossings whose endpoint a threat targets: only a threat that targets the flow "
                "itself looks at what crosses the boundary."
            )
        if set(got) > set(expected):
            raise CheckFailed(
                "it lists crossings that a threat does target: leave out the flows threats name."
            )
        if got != expected:
            raise CheckFailed(f"right flows in the wrong order (got {got}): keep the model's order.")
    left = len(_reference_unguarded(variants[-1]))
    return f"Right on {len(variants)} models; a model with no threats leaves {left} crossings unguarded."


def _cross(model: Any) -> list[Any]:
    from labkit.threats.threatmodel import crossings

    return crossings(model)


@exercise(
    "02.requirements",
    title="write machine-checkable security requirements",
    hint="One requirement of each kind, each mitigating a catalogue entry it really addresses, with bounds "
    "a model could fail. Save them with save_requirements to the path you are given.",
)
def _check_requirements(write_requirements: Any) -> str:
    from labkit.threats.requirements import KINDS, RequirementsError, load_requirements

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sub" / "requirements.json"
        returned = write_requirements(path)
        if not path.is_file():
            raise CheckFailed(
                f"nothing was written to the path it was given ({path.name}); write to that path."
            )
        if returned is None or Path(returned) != path:
            raise CheckFailed("it should return the path it wrote (save_requirements returns it).")
        try:
            reqs = load_requirements(path)
        except RequirementsError as error:
            raise CheckFailed(f"the saved file does not load: {error}") from None
    missing = [kind for kind in KINDS if not reqs.of_kind(kind)]
    if missing:
        raise CheckFailed(f"missing kind(s): {', '.join(missing)}; the release gate checks one of each.")
    for item in reqs:
        if item.mitigates not in MITIGATES[item.kind]:
            raise CheckFailed(
                f"{item.id}: a {item.kind} requirement mitigates {item.mitigates}? It does not address "
                "that attack."
            )
        minimum = getattr(item, "minimum", None)
        if minimum is not None and minimum == 0:
            raise CheckFailed(
                f"{item.id}: a minimum accuracy of 0 cannot fail; a requirement must be able to fail."
            )
        if (
            item.kind == "robust_accuracy"
            and getattr(item, "norm", "") == "linf"
            and getattr(item, "epsilon", 1) < 0.02
        ):
            raise CheckFailed(
                f"{item.id}: epsilon {getattr(item, 'epsilon', 0)} is far smaller than a pen stroke."
            )
        bound = {"auc_minus_half": 0.5, "tpr_minus_fpr": 1.0}.get(getattr(item, "measure", ""), None)
        if bound is not None and getattr(item, "maximum", 0) >= bound:
            raise CheckFailed(f"{item.id}: an advantage bound of {getattr(item, 'maximum', 0)} cannot fail.")
    return (
        f"{len(reqs)} requirements, every kind, each able to fail; the release gate of module 12 reads them."
    )
