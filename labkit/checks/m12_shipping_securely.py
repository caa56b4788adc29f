"""Hidden tests for module 12 (shipping securely: signed artifacts, model cards, the release gate)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

GOOD_SHA = "a" * 64


def _requirements() -> list[Any]:
    from labkit.threats.requirements import (
        ArtifactSigned,
        MembershipAdvantage,
        NoPickleArtifacts,
        PredictionsLogged,
        RobustAccuracy,
    )

    common = {"text": "hidden requirement"}
    return [
        RobustAccuracy(
            "SR-1",
            mitigates="adversarial_examples",
            epsilon=0.1,
            norm="linf",
            minimum=0.7,
            samples=200,
            **common,
        ),
        NoPickleArtifacts("SR-2", mitigates="supply_chain", **common),
        ArtifactSigned("SR-3", mitigates="backdoored_models", **common),
        MembershipAdvantage(
            "SR-4", mitigates="membership_inference", maximum=0.1, measure="auc_minus_half", **common
        ),
        PredictionsLogged("SR-5", mitigates="model_stealing", **common),
        SimpleNamespace(id="SR-6", kind="energy_budget", text="a kind this gate does not know"),
    ]


def _evidence(robust: float, membership: float, sha: str = GOOD_SHA) -> Any:  # noqa: ANN401
    from labkit.release.evidence import Evidence

    return Evidence(
        model="hidden",
        weights_sha256=sha,
        clean_accuracy=0.98,
        robust_accuracy={"linf:0.1:200": robust},
        membership={"auc_minus_half": membership},
        extraction_queries=500,
        extraction_fidelity={"500": 0.91},
        extraction_target=0.9,
    )


def _candidates() -> dict[str, Any]:
    from labkit.release.gates import GateRun
    from labkit.release.model_signature import SignatureCheck
    from labkit.release.release_gate import AuditTest, Candidate

    clean_scan = GateRun(0, 2, 0, "labkit: files scanned by content: 2; flagged: 0; not scanned: 0")
    formats = {"weights.safetensors": "safetensors", "card.json": "unknown"}
    return {
        "at the bounds": Candidate(
            "at-bounds", GOOD_SHA, SignatureCheck(True, ""), clean_scan, formats,
            _evidence(0.7, 0.1), AuditTest(3, 2, 3, 2),
        ),
        "nothing checked": Candidate(
            "unchecked", GOOD_SHA, None, None, {}, _evidence(0.95, 0.0, sha="b" * 64), None
        ),
        "all wrong": Candidate(
            "failing", GOOD_SHA, SignatureCheck(False, "Hash mismatch for 'weights.safetensors'"),
            GateRun(1, 1, 1, "flagged"), {"weights.safetensors": "safetensors", "extra.pt": "torch-zip"},
            _evidence(0.69, 0.11), AuditTest(3, 2, 3, 1),
        ),
        "scanned nothing": Candidate(
            "empty-scan", GOOD_SHA, SignatureCheck(True, ""),
            GateRun(2, 0, 0, "labkit: FAIL: found no file"), {"card.json": "unknown"},
            _evidence(0.9, 0.02), AuditTest(0, 0, 0, 0),
        ),
    }  # fmt: skip


def _as_rows(out: Any, n: int, where: str) -> list[tuple[str, bool, str]]:  # noqa: ANN401
    if not isinstance(out, (list, tuple)) or len(out) != n:
        raise CheckFailed(
            f"for {where} it should return one (id, passed, reason) per requirement ({n}), got {out!r:.80}."
        )
    rows = []
    for row in out:
        if not (isinstance(row, (list, tuple)) and len(row) == 3 and isinstance(row[1], bool)):
            raise CheckFailed(
                f"each item is a tuple (requirement id, passed True/False, reason), got {row!r:.80}."
            )
        rows.append((row[0], row[1], row[2]))
    return rows


@exercise(
    "12.gate",
    title="the release gate's evaluation loop, failing closed",
    hint="A requirement passes only on a measurement that meets its bound as written; anything the "
    "gate could not measure is a failure that says why.",
)
def _check_gate(gate_verdicts: Any) -> str:  # noqa: ANN401
    from labkit.release.release_gate import evaluate_gate, measured

    requirements = _requirements()
    for where, candidate in _candidates().items():
        expected = evaluate_gate(requirements, candidate)
        rows = _as_rows(
            gate_verdicts(requirements, candidate), len(requirements), f"the candidate with {where}"
        )
        for req, want, (rid, passed, reason) in zip(requirements, expected, rows, strict=True):
            if rid != req.id:
                raise CheckFailed(
                    f"the verdicts should follow the requirements' order and carry their ids; got {rid!r} "
                    f"for {req.id!r}."
                )
            if passed == want.passed:
                if not passed and not (isinstance(reason, str) and reason.strip()):
                    raise CheckFailed(
                        f"{req.id} failed with an empty reason; a blocked release must say why."
                    )
                continue
            value = measured(req, candidate).value
            if passed and value is None and req.kind == "artifact_signed":
                raise CheckFailed(
                    f"{where}: {req.id} passed although no signature was checked: a missing signature was "
                    f"treated as fine."
                )
            if passed and value is None:
                raise CheckFailed(
                    f"{where}: {req.id} ({req.kind}) passed although it could not be evaluated "
                    f"({measured(req, candidate).detail})."
                )
            if not passed and value is not None and req.kind == "robust_accuracy" and value == req.minimum:
                raise CheckFailed(
                    f"{req.id} failed a model whose robust accuracy equals the minimum exactly; the "
                    f"requirement says at least."
                )
            if (
                not passed
                and value is not None
                and req.kind == "membership_advantage"
                and value == req.maximum
            ):
                raise CheckFailed(
                    f"{req.id} failed a model whose advantage equals the maximum exactly; the requirement "
                    f"says at most."
                )
            if passed and req.kind == "membership_advantage":
                raise CheckFailed(
                    f"{where}: {req.id} passed an advantage of {value} above the maximum {req.maximum}: a "
                    f"smaller advantage is better."
                )
            verdict = "passed" if passed else "failed"
            raise CheckFailed(
                f"{where}: {req.id} ({req.kind}) {verdict}, but its measurement says otherwise "
                f"({want.reason})."
            )
    return (
        "bounds are inclusive, and everything the gate could not measure blocks the release with its reason."
    )


def reference_gate_verdicts(requirements: Any, candidate: Any) -> list[tuple[str, bool, str]]:  # noqa: ANN401
    """The reference for 12.gate: (id, passed, reason) per requirement, from evaluate_gate."""
    from labkit.release.release_gate import evaluate_gate

    return [(item.requirement, item.passed, item.reason) for item in evaluate_gate(requirements, candidate)]
