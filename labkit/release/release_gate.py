"""The release gate: module 02's requirements evaluated on one release candidate, failing closed.

A candidate is a directory of artifacts plus what was checked about it: its signature, a content scan,
the format of every file, the measured evidence (bound to the weights' SHA-256) and an audit-log test of
the service that will serve it. Every requirement gets a verdict with its reason; a requirement that
could not be evaluated (no measurement, evidence for other weights, no signature, a scan that looked at
nothing, an unknown kind) is a failure, never a pass. The model ships only if every verdict passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import validate as v
from labkit.release.evidence import Evidence, robust_key
from labkit.release.gates import GateRun
from labkit.release.model_signature import SignatureCheck

PICKLE_FORMATS = ("pickle", "torch-zip")


@dataclass(frozen=True)
class AuditTest:
    """A test of the serving path: requests answered and refused, and how many of each the log holds."""

    answered: int
    refused: int
    logged_answered: int
    logged_refused: int


@dataclass(frozen=True)
class Candidate:
    """A model about to ship and everything checked about it (None: not checked)."""

    name: str
    weights_sha256: str
    signature: SignatureCheck | None = None
    scan: GateRun | None = None
    formats: Mapping[str, str] = field(default_factory=dict)
    evidence: Evidence | None = None
    audit: AuditTest | None = None


@dataclass(frozen=True)
class Measurement:
    """What the candidate's checks say for one requirement: a number, True/False, or None (not
    evaluated), and a sentence saying what was measured or why nothing was."""

    value: float | bool | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    """One requirement's outcome for one candidate."""

    requirement: str
    kind: str
    passed: bool
    reason: str


def _candidate(candidate: Any) -> Candidate:  # noqa: ANN401
    if not isinstance(candidate, Candidate):
        raise TypeError(f"candidate must be a Candidate, not {type(candidate).__name__}.")
    return candidate


def measured(requirement: Any, candidate: Candidate) -> Measurement:  # noqa: ANN401 - any requirement kind
    """The measurement a requirement of labkit.threats.requirements is judged on, for this candidate."""
    _candidate(candidate)
    kind = getattr(requirement, "kind", None)
    if not isinstance(kind, str) or not isinstance(getattr(requirement, "id", None), str):
        raise TypeError(f"requirement must be a requirement with an id and a kind, not {requirement!r:.80}.")
    evidence = candidate.evidence
    if kind in ("robust_accuracy", "membership_advantage"):
        if evidence is None:
            return Measurement(None, "no evidence was measured for this model")
        if evidence.weights_sha256 != candidate.weights_sha256:
            return Measurement(None, "the evidence was measured on other weights (SHA-256 differs)")
    if kind == "robust_accuracy" and evidence is not None:
        key = robust_key(norm=requirement.norm, epsilon=requirement.epsilon, samples=requirement.samples)
        if key not in evidence.robust_accuracy:
            return Measurement(
                None, f"no worst-case measurement at {key} (have {sorted(evidence.robust_accuracy)})"
            )
        return Measurement(evidence.robust_accuracy[key], f"worst-case accuracy at {key}")
    if kind == "membership_advantage" and evidence is not None:
        if requirement.measure not in evidence.membership:
            return Measurement(None, f"no membership measurement of {requirement.measure}")
        return Measurement(evidence.membership[requirement.measure], f"membership {requirement.measure}")
    if kind == "artifact_signed":
        if candidate.signature is None:
            return Measurement(None, "no signature was checked")
        return Measurement(candidate.signature.ok, candidate.signature.summary())
    if kind == "no_pickle_artifacts":
        return _pickle_measurement(candidate)
    if kind == "predictions_logged":
        audit = candidate.audit
        if audit is None or audit.answered < 1 or audit.refused < 1:
            return Measurement(None, "the serving path was not tested with answered and refused requests")
        logged = audit.logged_answered >= audit.answered and audit.logged_refused >= audit.refused
        return Measurement(
            logged,
            f"log holds {audit.logged_answered}/{audit.answered} answered, "
            f"{audit.logged_refused}/{audit.refused} refused",
        )
    return Measurement(None, f"no way to evaluate a requirement of kind {kind!r}")


def _pickle_measurement(candidate: Candidate) -> Measurement:
    scan = candidate.scan
    if scan is None:
        return Measurement(None, "the artifacts were not scanned")
    if not candidate.formats:
        return Measurement(None, "the artifacts' formats were not read")
    if scan.returncode not in (0, 1) or scan.passed + scan.failed == 0:
        return Measurement(None, f"the scan did not complete (exit code {scan.returncode}): {scan.tail(1)}")
    pickles = sorted(name for name, kind in candidate.formats.items() if kind in PICKLE_FORMATS)
    if pickles or not scan.ok:
        return Measurement(False, f"pickle-based artifacts: {pickles or 'flagged by the scan'}")
    return Measurement(True, f"{len(candidate.formats)} files by content, none a pickle; scan clean")


def judge(requirement: Any, measurement: Measurement) -> Verdict:  # noqa: ANN401
    """One verdict: a None value fails ("not evaluated"); numbers are compared with the requirement's
    bound (robust accuracy >= minimum, membership advantage <= maximum); True/False are the verdict."""
    if not isinstance(measurement, Measurement):
        raise TypeError(f"measurement must be a Measurement, not {type(measurement).__name__}.")
    rid, kind = getattr(requirement, "id", "?"), getattr(requirement, "kind", "?")
    value = measurement.value
    if value is None:
        return Verdict(rid, kind, False, f"NOT EVALUATED: {measurement.detail}")
    if kind == "robust_accuracy":
        ok = value >= requirement.minimum
        return Verdict(rid, kind, ok, f"{measurement.detail}: {value:.1%} vs >= {requirement.minimum:.0%}")
    if kind == "membership_advantage":
        ok = value <= requirement.maximum
        return Verdict(rid, kind, ok, f"{measurement.detail}: {value:.3f} vs <= {requirement.maximum:g}")
    if isinstance(value, bool):
        return Verdict(rid, kind, value, measurement.detail)
    return Verdict(rid, kind, False, f"NOT EVALUATED: cannot judge {value!r} for kind {kind!r}")


def evaluate_gate(requirements: Iterable[Any], candidate: Candidate) -> list[Verdict]:  # noqa: ANN401
    """Every requirement judged for the candidate, in order (the reference of module 12's exercise)."""
    _candidate(candidate)
    if isinstance(requirements, (str, bytes)) or not isinstance(requirements, Iterable):
        raise TypeError(f"requirements must be an iterable of requirements, not {requirements!r:.60}.")
    items = list(requirements)
    for index, req in enumerate(items):
        if not isinstance(getattr(req, "kind", None), str) or not isinstance(getattr(req, "id", None), str):
            raise TypeError(
                f"requirements[{index}] must be a requirement with an id and a kind, not {req!r:.60}."
            )
    verdicts = [judge(req, measured(req, candidate)) for req in items]
    if not verdicts:
        raise ValueError("requirements is empty: a gate with nothing to check decides nothing.")
    return verdicts


def ships(verdicts: Iterable[Verdict]) -> bool:
    """True only if there is at least one verdict and every one passed."""
    items = list(verdicts) if isinstance(verdicts, Iterable) else None
    if items is None or not all(isinstance(item, Verdict) for item in items):
        raise TypeError(f"verdicts must be a list of Verdict, not {verdicts!r:.60}.")
    return bool(items) and all(item.passed for item in items)


def candidate_from_directory(
    name: str,
    directory: Path | str,
    *,
    signature: SignatureCheck | None,
    evidence: Evidence | None,
    audit: AuditTest | None,
    weights: str = "weights.safetensors",
) -> Candidate:
    """A Candidate for the artifacts in `directory`: every file's format by content, a content scan
    (run_picklescan) and the SHA-256 of the `weights` file; signature, evidence and audit as given."""
    from labkit.integrity import sha256_file
    from labkit.release.gates import run_picklescan
    from labkit.release.scanning import file_format

    v.text("name", name)
    folder = v.path("directory", directory, exists="dir")
    v.text("weights", weights)
    for arg, value, kind in (
        ("signature", signature, SignatureCheck),
        ("evidence", evidence, Evidence),
        ("audit", audit, AuditTest),
    ):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{arg} must be a {kind.__name__} or None, not {type(value).__name__}.")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    formats = {p.relative_to(folder).as_posix(): file_format(p) for p in files}
    weights_file = folder / weights
    digest = sha256_file(weights_file) if weights_file.is_file() else "0" * 64
    scan = run_picklescan(folder) if files else None
    return Candidate(name, digest, signature, scan, formats, evidence, audit)


def evaluate_gate_file(path: Path | str, candidate: Candidate) -> list[Verdict]:
    """`evaluate_gate` with the requirements read from a file (labkit.threats.requirements format).

    Fails closed: a missing, unreadable or invalid file gives one failed verdict with the reason."""
    from labkit.threats.requirements import load_requirements

    source = v.path("path", path)
    _candidate(candidate)
    try:
        requirements = load_requirements(source)
    except (OSError, ValueError) as error:
        return [Verdict("requirements file", "unreadable", False, f"NOT EVALUATED: {error}")]
    return evaluate_gate(requirements, candidate)
