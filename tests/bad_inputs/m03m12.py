"""Bad-input table for modules 03 and 12: labkit.release scanning, scanners, signatures (and the
model card, AI-BOM and release gate)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from tests.bad_inputs_cases import POSITIVE, TMP, Entry

COVERED = (
    "labkit.release.scanning",
    "labkit.release.scanners",
    "labkit.release.model_signature",
    "labkit.release.pins",
    "labkit.release.sbom",
)

NOT_INPUT_TAKING = {
    "labkit.release.scanning.LoadOutcome": "result record built by load_in_subprocess",
    "labkit.release.scanners.ScanRow": "result record built by run_scanner and gate_row",
    "labkit.release.model_signature.KeyPair": "result record built by generate_signing_key",
    "labkit.release.model_signature.SignatureCheck": "result record built by verify_model",
    "labkit.release.pins.DistributionCheck": "result record built by verify_distribution",
}

SKIPPED = {
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

    path = _fresh() / "tiny.safetensors"
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
