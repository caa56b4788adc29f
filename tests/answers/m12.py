"""Correct, stub and plausible-wrong answers for module 12's checks."""

from __future__ import annotations

from labkit.release.release_gate import measured


def gate_verdicts(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, f"{m.value:.3f} vs >= {req.minimum}"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value <= req.maximum, f"{m.value:.3f} vs <= {req.maximum}"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_passing_what_it_cannot_measure(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, True, "skipped: not measured"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, "robust"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value <= req.maximum, "membership"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_missing_signature_ok(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if req.kind == "artifact_signed":
            rows.append((req.id, m.value is not False, m.detail))  # "no failed verification"
        elif m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, "robust"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value <= req.maximum, "membership"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_strict_bounds(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value > req.minimum, "robust"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value < req.maximum, "membership"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_truthy_values(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, "robust"))
        else:
            rows.append((req.id, bool(m.value), m.detail))  # "a measured advantage is a pass"
    return rows


ANSWERS = {
    "12.gate": (
        gate_verdicts,
        [
            (gate_passing_what_it_cannot_measure, "could not be evaluated"),
            (gate_missing_signature_ok, "missing signature"),
            (gate_strict_bounds, "exactly"),
            (gate_truthy_values, "smaller advantage is better"),
        ],
    ),
}
