"""A model card whose security section is filled from measurements, never typed in by hand.

The card is a CycloneDX `modelCard` object (so the AI bill of materials embeds it unchanged) and renders
to Markdown for people. Its security numbers come from the release evidence (worst-case robust accuracy,
membership-inference advantage, extraction cost in queries, bound to the weights' SHA-256), the content
scan of the shipped artifacts, the signature check and the release gate's verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from labkit import validate as v
from labkit.release.evidence import Evidence
from labkit.release.gates import GateRun
from labkit.release.model_signature import SignatureCheck
from labkit.release.release_gate import Verdict, ships


def _metric(kind: str, value: str, slice_: str) -> dict[str, str]:
    return {"type": kind, "value": value, "slice": slice_}


def security_metrics(evidence: Evidence) -> list[dict[str, str]]:
    """CycloneDX performanceMetrics for the measured evidence: clean and worst-case accuracy,
    membership-inference advantage, extraction cost."""
    if not isinstance(evidence, Evidence):
        raise TypeError(f"evidence must be an Evidence record, not {type(evidence).__name__}.")
    ensemble = ", ".join(evidence.measured_with.get("attacks", [])) or "the course's attack ensemble"
    metrics = [_metric("accuracy", f"{evidence.clean_accuracy:.4f}", "clean test digits")]
    for key, value in sorted(evidence.robust_accuracy.items()):
        norm, epsilon, samples = key.split(":")
        metrics.append(
            _metric(
                "worst-case robust accuracy",
                f"{value:.4f}",
                f"{norm} epsilon {epsilon}, first {samples} test digits, worst case over {ensemble}",
            )
        )
    for measure, value in sorted(evidence.membership.items()):
        metrics.append(
            _metric(f"membership-inference advantage ({measure})", f"{value:.4f}", "loss-threshold attack")
        )
    cost = "not reached" if evidence.extraction_queries is None else str(evidence.extraction_queries)
    tried = ", ".join(f"{b}: {f:.1%}" for b, f in evidence.extraction_fidelity.items())
    metrics.append(
        _metric(
            f"extraction cost in queries (surrogate fidelity >= {evidence.extraction_target:.0%})",
            cost,
            f"probabilities released; fidelity by budget {tried}",
        )
    )
    return metrics


def build_model_card(
    name: str,
    *,
    description: str,
    evidence: Evidence,
    scan: GateRun,
    signature: SignatureCheck | None,
    verdicts: Sequence[Verdict],
    dataset_ref: str = "data:digits",
) -> dict[str, Any]:
    """The CycloneDX modelCard of one model, its security section from the arguments' measurements."""
    v.text("name", name)
    v.text("description", description)
    v.text("dataset_ref", dataset_ref)
    if not isinstance(scan, GateRun):
        raise TypeError(f"scan must be the GateRun of run_picklescan, not {type(scan).__name__}.")
    if signature is not None and not isinstance(signature, SignatureCheck):
        raise TypeError(f"signature must be a SignatureCheck or None, not {type(signature).__name__}.")
    if isinstance(verdicts, (str, bytes)) or not isinstance(verdicts, Sequence):
        raise TypeError(f"verdicts must be a list of Verdict, not {verdicts!r:.60}.")
    decision = ships(verdicts)
    scanned = f"scan: exit code {scan.returncode}, {scan.passed} clean and {scan.failed} flagged files"
    signed = "signature: not checked" if signature is None else f"signature: {signature.summary()}"
    risks = [
        {
            "name": f"{item.requirement} ({item.kind}): {'PASS' if item.passed else 'FAIL'}",
            "mitigationStrategy": item.reason,
        }
        for item in verdicts
    ]
    return {
        "modelParameters": {
            "approach": {"type": "supervised"},
            "task": "classification",
            "architectureFamily": "convolutional neural network",
            "modelArchitecture": "DigitsCNN",
            "datasets": [{"ref": dataset_ref}],
            "inputs": [{"format": "N x 1 x 28 x 28 float32 in [0, 1]"}],
            "outputs": [{"format": "10 class probabilities"}],
        },
        "quantitativeAnalysis": {"performanceMetrics": security_metrics(evidence)},
        "considerations": {
            "users": ["the bank's cheque-processing service"],
            "useCases": [description],
            "technicalLimitations": [
                scanned,
                signed,
                f"evidence bound to weights sha256 {evidence.weights_sha256}",
            ],
            "performanceTradeoffs": [f"release gate: {'SHIPS' if decision else 'BLOCKED'}"],
            "ethicalConsiderations": risks,
        },
    }


def card_markdown(name: str, card: Mapping[str, Any]) -> str:
    """The model card as Markdown: model details, the measured security table, the gate's verdicts."""
    v.text("name", name)
    if not isinstance(card, Mapping) or "quantitativeAnalysis" not in card or "considerations" not in card:
        raise TypeError(f"card must be a model card from build_model_card, not {card!r:.60}.")
    params, considerations = card.get("modelParameters", {}), card["considerations"]
    lines = [f"# Model card: {name}", ""]
    lines += [f"{considerations['useCases'][0]}", ""]
    lines += [f"- **Architecture:** {params.get('modelArchitecture', '?')} ({params.get('task', '?')})"]
    lines += [f"- **Input:** {params.get('inputs', [{}])[0].get('format', '?')}", ""]
    lines += ["## Security (measured)", "", "| measure | value | on |", "|---|---|---|"]
    for metric in card["quantitativeAnalysis"]["performanceMetrics"]:
        lines.append(f"| {metric['type']} | {metric['value']} | {metric['slice']} |")
    lines += ["", *[f"- {item}" for item in considerations["technicalLimitations"]], ""]
    lines += [f"## Release gate: {considerations['performanceTradeoffs'][0].split(': ')[-1]}", ""]
    lines += [
        f"- {risk['name']}: {risk['mitigationStrategy']}" for risk in considerations["ethicalConsiderations"]
    ]
    return "\n".join(lines) + "\n"


def card_json(card: Mapping[str, Any]) -> str:
    """The model card as JSON text (the CycloneDX modelCard object)."""
    if not isinstance(card, Mapping):
        raise TypeError(f"card must be a model card mapping, not {type(card).__name__}.")
    return json.dumps(card, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
