"""Module 03/12 supply-chain code: the malicious checkpoint stays in its sandbox, scanners, signatures."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from labkit.release.model_signature import generate_signing_key, sign_model, verify_model
from labkit.release.scanners import compare_scanners, comparison_table, run_scanner
from labkit.release.scanning import file_format, load_in_subprocess, sniff_format, write_malicious_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    state = {"w": torch.zeros(3)}
    save_file(state, tmp_path / "model.safetensors")
    torch.save(state, tmp_path / "model.pt")
    marker = tmp_path / "MARKER"
    write_malicious_checkpoint(tmp_path / "evil.pt", marker=marker)
    write_malicious_checkpoint(tmp_path / "evil.pkl", marker=marker, container="pickle")
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    shutil.copy(tmp_path / "evil.pkl", renamed / "weights.safetensors")
    shutil.copy(tmp_path / "evil.pkl", renamed / "notes.txt")
    return {"dir": tmp_path, "marker": marker, "renamed": renamed}


def test_formats_are_read_from_the_bytes_not_the_name(files):
    d = files["dir"]
    assert file_format(d / "model.safetensors") == "safetensors"
    assert file_format(d / "model.pt") == "torch-zip"
    assert file_format(d / "evil.pt") == "torch-zip"
    assert file_format(files["renamed"] / "weights.safetensors") == "pickle"
    assert file_format(files["renamed"] / "notes.txt") == "pickle"
    assert sniff_format(b"") == "empty"
    assert sniff_format(b"\x93NUMPY\x01\x00") == "numpy"
    assert sniff_format(b"hello world, plain text") == "unknown"
    # a safetensors header length that points past the end of the file is not safetensors
    assert file_format(_write(d / "short", (10_000).to_bytes(8, "little") + b"{}")) == "unknown"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_payload_runs_only_in_the_subprocess_and_never_here(files):
    """Isolation: building, sniffing, scanning and sandboxed loading never unpickle in this process."""
    events: list[tuple[str, tuple]] = []
    active = True

    def hook(event: str, args: tuple) -> None:
        if active and event in ("pickle.find_class", "exec"):
            events.append((event, args))

    sys.addaudithook(hook)  # cannot be removed: `active` turns it off at the end
    try:
        d, marker = files["dir"], files["marker"]
        compare_scanners([d / "evil.pt", files["renamed"]])
        outcomes = load_in_subprocess(d / "evil.pt", marker=marker, loaders=("safetensors", "torch"))
        assert [o.loaded for o in outcomes] == [False, False]
        assert not any(o.marker_written for o in outcomes) and not marker.exists()
        unsafe = load_in_subprocess(d / "evil.pt", marker=marker, loaders=("torch-unsafe",))[0]
        assert unsafe.loaded and unsafe.marker_written and marker.exists()  # it ran, over there
        marker.unlink()
        raw = load_in_subprocess(d / "evil.pkl", marker=marker, loaders=("torch-unsafe", "torch"))
        assert [o.marker_written for o in raw] == [True, False]
    finally:
        active = False
    found = [
        args for event, args in events if event == "pickle.find_class" and args[:2] == ("builtins", "exec")
    ]
    assert not found, "the payload's builtins.exec was resolved in the test process"
    assert not [args for event, args in events if event == "exec" and "marker" in repr(args).lower()]


def test_loader_has_no_in_process_mode(files):
    with pytest.raises(ValueError, match="loaders"):
        load_in_subprocess(files["dir"] / "evil.pt", marker=files["marker"], loaders=("in-process",))
    with pytest.raises(ValueError, match="marker"):
        load_in_subprocess(files["dir"] / "evil.pt", marker="relative/marker", loaders=("torch",))


def test_scanner_comparison_matches_the_measured_facts(files):
    d, renamed = files["dir"], files["renamed"]
    targets = [d / "model.safetensors", d / "model.pt", renamed / "notes.txt", renamed]
    rows = {(r.target, r.scanner): r.verdict for r in compare_scanners(targets)}
    assert rows["notes.txt", "picklescan"] == "flagged"  # named directly, picklescan reads it
    assert rows["renamed", "picklescan"] == "scanned nothing"  # by extension in a directory: misses it
    assert rows["notes.txt", "modelscan"] == "scanned nothing"
    assert rows["renamed", "fickling"] == "scanned nothing"  # no directory mode
    assert rows["model.pt", "fickling"] == "flagged"  # flags a clean torch zip
    assert rows["renamed", "labkit gate"] == "flagged"  # by content, every file
    assert rows["model.safetensors", "labkit gate"] == "clean"
    assert "| renamed |" in comparison_table(compare_scanners([renamed]))


def test_run_scanner_rejects_empty_targets():
    with pytest.raises(TypeError, match="targets"):
        run_scanner("picklescan", [])
    with pytest.raises(ValueError, match="scanner"):
        run_scanner("clamav", ["x"])


def test_sign_verify_and_three_kinds_of_tampering(tmp_path: Path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.safetensors").write_bytes(b"\x00" * 64)
    (model / "card.json").write_text("{}")
    keys = generate_signing_key(tmp_path / "keys")
    other = generate_signing_key(tmp_path / "keys", name="other")
    assert oct(keys.private_key.stat().st_mode & 0o777) == "0o600"
    signature = sign_model(model, private_key=keys.private_key, signature=tmp_path / "model.sig")
    assert verify_model(model, public_key=keys.public_key, signature=signature).ok
    wrong_key = verify_model(model, public_key=other.public_key, signature=signature)
    assert not wrong_key.ok and "key" in wrong_key.reason.lower()
    data = bytearray((model / "weights.safetensors").read_bytes())
    data[10] ^= 1
    (model / "weights.safetensors").write_bytes(bytes(data))
    flipped = verify_model(model, public_key=keys.public_key, signature=signature)
    assert not flipped.ok and "weights.safetensors" in flipped.reason
    data[10] ^= 1
    (model / "weights.safetensors").write_bytes(bytes(data))
    (model / "extra.txt").write_text("x")
    extra = verify_model(model, public_key=keys.public_key, signature=signature)
    assert not extra.ok and "extra.txt" in extra.reason
    (model / "extra.txt").unlink()
    assert verify_model(model, public_key=keys.public_key, signature=signature).ok
    missing = verify_model(model, public_key=keys.public_key, signature=tmp_path / "none.sig")
    assert not missing.ok and "no signature" in missing.reason


def test_keys_are_never_written_into_the_repository_and_never_overwritten(tmp_path: Path):
    from labkit.paths import repo_root

    with pytest.raises(ValueError, match="inside the course repository"):
        generate_signing_key(repo_root() / "keys")
    generate_signing_key(tmp_path)
    with pytest.raises(FileExistsError):
        generate_signing_key(tmp_path)


def test_ed25519_key_is_refused_with_a_clear_error(tmp_path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    model = tmp_path / "m"
    model.mkdir()
    (model / "f").write_bytes(b"x")
    key = tmp_path / "ed.key"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError, match="private_key"):
        sign_model(model, private_key=key, signature=tmp_path / "s.sig")


def test_pins_catch_a_changed_a_missing_and_an_added_file(tmp_path: Path):
    from labkit.release.pins import check_pins, pin_files

    for name in ("a.safetensors", "b.json"):
        (tmp_path / name).write_bytes(name.encode())
    pins = pin_files([tmp_path / "a.safetensors", tmp_path / "b.json"], root=tmp_path)
    assert check_pins(pins, root=tmp_path) == []
    (tmp_path / "a.safetensors").write_bytes(b"A.safetensors")
    (tmp_path / "b.json").unlink()
    (tmp_path / "c.pt").write_bytes(b"new")
    problems = check_pins(pins, root=tmp_path)
    assert [p.split(":")[0] for p in problems] == ["a.safetensors", "b.json", "c.pt"]
    assert "changed" in problems[0] and "missing" in problems[1] and "not pinned" in problems[2]


def test_installed_distribution_matches_its_record():
    from labkit.release.pins import verify_distribution

    result = verify_distribution("picklescan")
    assert result.ok and result.checked > 5


def test_environment_sbom_is_valid_cyclonedx_and_lists_torch():
    import json

    from labkit.release.sbom import environment_sbom, validate_bom_json

    text = environment_sbom()
    document = json.loads(text)
    names = {c["name"].lower(): c for c in document["components"]}
    assert names["torch"]["version"] == torch.__version__.split("+")[0]
    assert names["torch"]["purl"].startswith("pkg:pypi/torch@")
    broken = dict(document, components=[{"name": "x"}])  # a component needs a type
    with pytest.raises(ValueError, match="not valid CycloneDX"):
        validate_bom_json(json.dumps(broken))
