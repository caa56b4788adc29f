"""Bad-input table for modules 03 and 12: labkit.release scanning, scanners, signatures (and the
model card, AI-BOM and release gate)."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from tests.bad_inputs_cases import COUNT, INF, NAN, POSITIVE, TMP, Bad, Entry

COVERED = (
    "labkit.release.scanning",
    "labkit.release.scanners",
    "labkit.release.model_signature",
    "labkit.release.pins",
    "labkit.release.sbom",
    "labkit.release.evidence",
    "labkit.release.release_gate",
    "labkit.release.modelcard",
    "labkit.release.aibom",
)

NOT_INPUT_TAKING = {
    "labkit.release.scanning.LoadOutcome": "result record built by load_in_subprocess",
    "labkit.release.scanners.ScanRow": "result record built by run_scanner and gate_row",
    "labkit.release.model_signature.KeyPair": "result record built by generate_signing_key",
    "labkit.release.model_signature.SignatureCheck": "result record built by verify_model",
    "labkit.release.pins.DistributionCheck": "result record built by verify_distribution",
    "labkit.release.evidence.shipped_evidence": "takes no arguments (reads datasets/release/evidence.json "
    "through the signed manifest; tests/test_release_gate.py)",
    "labkit.release.release_gate.AuditTest": "result record of a serving test (counts)",
    "labkit.release.release_gate.Candidate": "record built by candidate_from_directory",
    "labkit.release.release_gate.Measurement": "result record built by measured",
    "labkit.release.release_gate.Verdict": "result record built by judge",
    "labkit.release.aibom.DatasetEntry": "record; ai_bom checks its file and licence",
    "labkit.release.aibom.ModelEntry": "record; ai_bom checks its file, licence, dataset and card",
}

SKIPPED = {
    "labkit.release.evidence.measure_evidence": "a valid call runs the worst-case attack ensemble, a "
    "membership attack and trains four surrogates on a zoo model (minutes); its norm/epsilon/samples go "
    "through robust_key (swept here) first",
    "labkit.release.sbom.environment_sbom": "environment_components + bom_json over the ~240 installed "
    "distributions (both swept here with a few); its arguments go to bom_json unchanged",
    "labkit.release.scanners.compare_scanners": "runs run_scanner for each scanner and gate_row for each "
    "target (both swept here) in four processes, ~10 s; tests/test_release_supply_chain.py",
}

PATH_BAD = [3, None, ""]


def _fresh() -> Path:
    return Path(tempfile.mkdtemp(dir=TMP))


@cache
def _safetensors() -> Path:
    import torch
    from safetensors.torch import save_file

    path = TMP / "m03m12-tiny" / "tiny.safetensors"
    path.parent.mkdir(exist_ok=True)
    save_file({"w": torch.zeros(2)}, str(path))
    return path


@cache
def _signed() -> tuple[Path, Path, Path, Path]:
    """(model dir, private key, public key, signature) of a tiny signed model."""
    from labkit.release.model_signature import generate_signing_key, sign_model

    root = _fresh()
    model = root / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x01\x02")
    keys = generate_signing_key(root / "keys")
    signature = sign_model(model, private_key=keys.private_key, signature=root / "model.sig")
    return model, keys.private_key, keys.public_key, signature


def cases() -> dict[str, Entry]:
    def signed_args() -> dict[str, Any]:
        model, private, _, _ = _signed()
        return dict(model_dir=model, private_key=private, signature=_fresh() / "again.sig")

    def verify_args() -> dict[str, Any]:
        model, _, public, signature = _signed()
        return dict(model_dir=model, public_key=public, signature=signature)

    return {
        "labkit.release.scanning.sniff_format": Entry(
            lambda: dict(data=b"\x80\x04K\x01."), {"data": ["text", None, 3, [128, 4]]}
        ),
        "labkit.release.scanning.file_format": Entry(
            lambda: dict(path=_safetensors()), {"path": [*PATH_BAD, TMP / "missing.bin", TMP]}
        ),
        "labkit.release.scanning.write_malicious_checkpoint": Entry(
            lambda: dict(path=_fresh() / "evil.pt", marker=TMP / "MARKER"),
            {
                "path": PATH_BAD,
                "marker": [*PATH_BAD, "relative-marker", TMP / "no-such-dir" / "MARKER"],
                "container": ["zip", 3, None],
            },
        ),
        "labkit.release.scanning.load_in_subprocess": Entry(
            lambda: dict(path=_safetensors(), marker=TMP / "MARKER", loaders=("safetensors",), timeout=120.0),
            {
                "path": [*PATH_BAD, TMP / "missing.pt"],
                "marker": [*PATH_BAD, "relative-marker"],
                "loaders": [(), "torch", ("in-process",), None, (3,)],
                "timeout": POSITIVE + ["60"],
            },
        ),
        "labkit.release.scanners.run_scanner": Entry(
            lambda: dict(scanner="picklescan", targets=[_safetensors()], timeout=120.0),
            {
                "scanner": ["clamav", 3, None, "PickleScan"],
                "targets": [[], "file.pt", None, [3], [TMP / "missing.pt"]],
                "timeout": POSITIVE + ["60"],
            },
        ),
        "labkit.release.scanners.gate_row": Entry(
            lambda: dict(target=_safetensors(), timeout=120.0),
            {"target": [*PATH_BAD, TMP / "missing.pt"], "timeout": POSITIVE + ["60"]},
        ),
        "labkit.release.scanners.comparison_table": Entry(
            lambda: dict(rows=[_row()]), {"rows": [[], None, "table", [3], [{"target": "x"}]]}
        ),
        "labkit.release.model_signature.generate_signing_key": Entry(
            lambda: dict(directory=_fresh() / "keys", name="release"),
            {"directory": PATH_BAD, "name": ["", "../x", 3, None, "a b"]},
        ),
        "labkit.release.model_signature.sign_model": Entry(
            signed_args,
            {
                "model_dir": [*PATH_BAD, TMP / "missing-model", _empty_dir()],
                "private_key": [*PATH_BAD, TMP / "missing.key", _ed25519_key()],
                "signature": PATH_BAD,
            },
        ),
        "labkit.release.pins.pin_files": Entry(
            lambda: dict(paths=[_safetensors()], root=_safetensors().parent),
            {"paths": [[], None, "x", [3], [TMP / "missing.bin"]], "root": [*PATH_BAD, TMP / "missing-dir"]},
        ),
        "labkit.release.pins.check_pins": Entry(
            lambda: dict(pins={"tiny.safetensors": "0" * 64}, root=_safetensors().parent),
            {
                "pins": [{}, None, [("a", "b")], {"a": "short"}, {"a": 3}],
                "root": [*PATH_BAD, TMP / "missing-dir"],
            },
        ),
        "labkit.release.pins.verify_distribution": Entry(
            lambda: dict(name="picklescan"), {"name": ["", 3, None, "no-such-distribution-xyz"]}
        ),
        "labkit.release.sbom.environment_components": Entry(
            lambda: dict(distributions=_dists()), {"distributions": ["torch", 3, ["torch"]]}
        ),
        "labkit.release.sbom.validate_bom_json": Entry(
            lambda: dict(text=_bom_text(), spec_version="1.6"),
            {
                "text": ["", 3, None, "{}", '{"bomFormat": "CycloneDX", "specVersion": "1.6", "x": 1}'],
                "spec_version": ["1.2", 1.6, None],
            },
        ),
        "labkit.release.sbom.bom_json": Entry(
            lambda: dict(components=_components(), name="course", version="1"),
            {
                "components": [None, "torch", [3]],
                "name": ["", 3],
                "version": ["", None],
                "spec_version": ["2.0"],
            },
        ),
        "labkit.release.evidence.robust_key": Entry(
            lambda: dict(norm="linf", epsilon=0.1, samples=200),
            {"norm": ["L2", 3, None], "epsilon": [0.0, -0.1, NAN, "0.1"], "samples": COUNT},
        ),
        "labkit.release.evidence.Evidence": Entry(
            lambda: _evidence_fields(),
            {
                "model": ["", 3],
                "weights_sha256": ["abc", 3, None],
                "clean_accuracy": [1.5, NAN, "0.9"],
                "robust_accuracy": ["0.5", {"linf:0.1:200": NAN}, {"k": "0.5"}, {3: 0.5}],
                "membership": [None, {"auc_minus_half": INF}],
                "extraction_queries": [0, -1, 2.5, True],
                "extraction_fidelity": [[0.5], {"250": True}],
                "extraction_target": [1.5, -0.1, NAN],
            },
        ),
        "labkit.release.evidence.save_evidence": Entry(
            lambda: dict(items=[_evidence()], path=_fresh() / "evidence.json"),
            {"items": [[], "x", [3], None], "path": PATH_BAD},
        ),
        "labkit.release.evidence.parse_evidence": Entry(
            lambda: dict(text=_evidence_text(), source="evidence"),
            {
                "text": ["", 3, None, "{", '{"format": "other"}', _evidence_text().replace("0.9", "9.0", 1)],
                "source": ["", 3],
            },
        ),
        "labkit.release.release_gate.measured": Entry(
            lambda: dict(requirement=_requirement(), candidate=_candidate()),
            {"requirement": [None, "SR-1", 3], "candidate": [None, "digits_cnn", {}]},
        ),
        "labkit.release.release_gate.judge": Entry(
            lambda: dict(requirement=_requirement(), measurement=_measurement()),
            {"measurement": [None, 0.5, (0.5, "x")]},
        ),
        "labkit.release.release_gate.evaluate_gate": Entry(
            lambda: dict(requirements=[_requirement()], candidate=_candidate()),
            {"requirements": [None, "SR-1", [], [3]], "candidate": [None, "digits_cnn"]},
        ),
        "labkit.release.release_gate.ships": Entry(
            lambda: dict(verdicts=[_verdict()]), {"verdicts": [None, 3, [3], "x"]}
        ),
        "labkit.release.release_gate.evaluate_gate_file": Entry(
            lambda: dict(path=TMP / "no-requirements.json", candidate=_candidate()),
            {"path": PATH_BAD, "candidate": [None, "digits_cnn"]},
        ),
        "labkit.release.release_gate.candidate_from_directory": Entry(
            lambda: dict(
                name="tiny",
                directory=_safetensors().parent,
                signature=None,
                evidence=None,
                audit=None,
                weights="tiny.safetensors",
            ),
            {
                "name": ["", 3],
                "directory": [*PATH_BAD, TMP / "missing-dir"],
                "signature": ["VERIFIED", True],
                "evidence": [{}, "x"],
                "audit": [3, (1, 1, 1, 1)],
                "weights": ["", 3],
            },
        ),
        "labkit.release.modelcard.security_metrics": Entry(
            lambda: dict(evidence=_evidence()), {"evidence": [None, {}, "x"]}
        ),
        "labkit.release.modelcard.build_model_card": Entry(
            lambda: dict(
                name="tiny",
                description="a model",
                evidence=_evidence(),
                scan=_scan(),
                signature=None,
                verdicts=[_verdict()],
            ),
            {
                "name": ["", 3],
                "description": ["", None],
                "evidence": [None, {}],
                "scan": [None, 0],
                "signature": ["VERIFIED", True],
                "verdicts": [None, "x", [3]],
                "dataset_ref": ["", 3],
            },
        ),
        "labkit.release.modelcard.card_markdown": Entry(
            lambda: dict(name="tiny", card=_card()), {"name": ["", 3], "card": [None, {}, "card"]}
        ),
        "labkit.release.modelcard.card_json": Entry(lambda: dict(card=_card()), {"card": [None, "card", 3]}),
        "labkit.release.aibom.ai_bom": Entry(
            lambda: dict(models=[_model_entry()], datasets=[_dataset_entry()], name="course", version="1"),
            {
                "models": [
                    [],
                    None,
                    "x",
                    [3],
                    Bad("unknown-dataset", lambda m: [replace(m[0], dataset="mnist")]),
                    Bad("empty-licence", lambda m: [replace(m[0], licence="")]),
                ],
                "datasets": [
                    [],
                    None,
                    [3],
                    Bad("missing-file", lambda d: [replace(d[0], path=TMP / "missing.npz")]),
                ],
                "name": ["", 3],
                "version": ["", None],
                "spec_version": ["1.2", 1.6],
            },
        ),
        "labkit.release.model_signature.verify_model": Entry(
            verify_args, {"model_dir": PATH_BAD, "public_key": PATH_BAD, "signature": PATH_BAD}
        ),
    }


def _row() -> Any:
    from labkit.release.scanners import ScanRow

    return ScanRow("model.pt", "picklescan", "clean", 1, 0, "")


def _empty_dir() -> Path:
    path = TMP / "m03m12-empty-model"
    path.mkdir(exist_ok=True)
    return path


def _ed25519_key() -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = TMP / "m03m12-ed25519.key"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _dists() -> list[Any]:
    from importlib import metadata

    return [metadata.distribution("picklescan"), metadata.distribution("safetensors")]


@cache
def _bom_text() -> str:
    from labkit.release.sbom import bom_json

    return bom_json(_components(), name="course", version="1")


def _components() -> list[Any]:
    from labkit.release.sbom import environment_components

    return environment_components(_dists())


def _evidence_fields() -> dict[str, Any]:
    return dict(
        model="tiny",
        weights_sha256="a" * 64,
        clean_accuracy=0.9,
        robust_accuracy={"linf:0.1:200": 0.5},
        membership={"auc_minus_half": 0.01},
        extraction_queries=500,
        extraction_fidelity={"500": 0.7},
        extraction_target=0.65,
    )


def _evidence() -> Any:
    from labkit.release.evidence import Evidence

    return Evidence(**_evidence_fields())


def _evidence_text() -> str:
    import json

    return json.dumps({"format": "labkit-release-evidence/1", "models": {"tiny": _evidence_fields()}})


def _requirement() -> Any:
    from labkit.threats.requirements import ArtifactSigned

    return ArtifactSigned("SR-3", text="signed", mitigates="supply_chain")


def _candidate() -> Any:
    from labkit.release.model_signature import SignatureCheck
    from labkit.release.release_gate import Candidate

    return Candidate("tiny", "a" * 64, signature=SignatureCheck(True, ""))


def _measurement() -> Any:
    from labkit.release.release_gate import Measurement

    return Measurement(True, "verified")


def _verdict() -> Any:
    from labkit.release.release_gate import Verdict

    return Verdict("SR-3", "artifact_signed", True, "verified")


def _scan() -> Any:
    from labkit.release.gates import GateRun

    return GateRun(0, 1, 0, "labkit: files scanned by content: 1; flagged: 0; not scanned: 0")


def _card() -> Any:
    from labkit.release.modelcard import build_model_card

    return build_model_card(
        "tiny",
        description="a model",
        evidence=_evidence(),
        scan=_scan(),
        signature=None,
        verdicts=[_verdict()],
    )


def _dataset_entry() -> Any:
    from labkit.release.aibom import DatasetEntry

    return DatasetEntry("data", _safetensors(), "MIT")


def _model_entry() -> Any:
    from labkit.release.aibom import ModelEntry

    return ModelEntry("tiny", "1", _safetensors(), "MIT", "data", _card())
