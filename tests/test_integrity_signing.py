"""The signed manifest: a forged manifest, signature or public key is refused by every loader and doctor."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from labkit import integrity
from labkit.cli import main
from labkit.data import load_clinic, load_digits
from labkit.integrity import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    IntegrityError,
    read_manifest,
    sign_manifest,
    verify,
    verify_all,
    write_manifest_entry,
)
from labkit.paths import datasets_dir
from labkit.signing import generate_signing_key, key_fingerprint, public_key_pem
from labkit.zoo.registry import load_model
from tests.helpers import copy_datasets


def make_signed_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A full copy of datasets/ signed with a temporary key that labkit pins for this test."""
    target = tmp_path / "datasets"
    shutil.copytree(datasets_dir(), target, ignore=shutil.ignore_patterns("*.lock", "*.tmp"))
    key_path = tmp_path / "keys" / "signing.key"
    key = generate_signing_key(key_path)
    (target / PUBLIC_KEY_NAME).write_bytes(public_key_pem(key.public_key()))
    monkeypatch.setattr(integrity, "PUBLIC_KEY_FINGERPRINT", key_fingerprint(key.public_key()))
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(key_path))
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    sign_manifest(target)
    return target


@pytest.fixture
def signed_tree(tmp_path, monkeypatch):
    return make_signed_tree(tmp_path, monkeypatch)


def _rewrite_pin(root: Path, relative: str, data: bytes) -> None:
    """What an attacker with write access does: change a file and its manifest line (no key)."""
    (root / relative).write_bytes(data)
    text = (root / MANIFEST_NAME).read_text()
    old = integrity.parse_manifest(text)[relative]
    (root / MANIFEST_NAME).write_text(text.replace(old, hashlib.sha256(data).hexdigest()))


def test_the_shipped_tree_verifies_against_the_pinned_key():
    root = datasets_dir()
    assert integrity.signature_problem(root) is None
    assert all(problem is None for _, problem in verify_all(root))
    shipped = [p for p in root.rglob("*") if p.is_file()] + list(root.parent.glob("*.key"))
    assert not [p for p in shipped if p.suffix == ".key" or b"PRIVATE KEY" in p.read_bytes()]


def test_tampered_dataset_and_its_manifest_line_are_refused(signed_tree, capsys):
    load_digits("test")  # the signed copy loads
    _rewrite_pin(signed_tree, "digits/digits.npz", (signed_tree / "clinic/clinic.npz").read_bytes())
    with pytest.raises(IntegrityError, match="does not match its signature") as info:
        load_digits("test")
    assert "git checkout -- datasets/" in str(info.value)
    with pytest.raises(IntegrityError, match="does not match its signature"):
        load_clinic("test")  # every pin of a forged manifest is untrusted, not just the changed one
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"✘ datasets/{MANIFEST_NAME}" in out and "All good" not in out


def test_tampered_model_its_card_and_manifest_are_refused(signed_tree):
    load_model("digits_cnn", device="cpu")
    weights = bytearray((signed_tree / "models/digits_cnn.safetensors").read_bytes())
    weights[-10] ^= 0x01
    _rewrite_pin(signed_tree, "models/digits_cnn.safetensors", bytes(weights))
    card = json.loads((signed_tree / "models/digits_cnn.json").read_text())
    card["weights_sha256"] = hashlib.sha256(bytes(weights)).hexdigest()
    _rewrite_pin(signed_tree, "models/digits_cnn.json", json.dumps(card).encode())
    with pytest.raises(IntegrityError, match="does not match its signature"):
        load_model("digits_cnn", device="cpu")
    with pytest.raises(IntegrityError, match="does not match its signature"):
        verify("models/digits_cnn.json")


def test_a_changed_or_missing_signature_is_refused(signed_tree):
    sig = signed_tree / SIGNATURE_NAME
    original = sig.read_bytes()
    raw = bytearray(base64.b64decode(original))
    raw[0] ^= 0x01
    sig.write_bytes(base64.b64encode(bytes(raw)) + b"\n")
    with pytest.raises(IntegrityError, match="does not match its signature"):
        load_clinic("test")
    sig.write_text("not base64 at all!\n")
    with pytest.raises(IntegrityError, match="does not match its signature"):
        load_clinic("test")
    sig.unlink()
    with pytest.raises(IntegrityError, match="is not signed .* `labkit data sign`"):
        load_clinic("test")
    sig.write_bytes(original)
    load_clinic("test")


def test_a_swapped_public_key_is_refused_even_with_a_matching_signature(signed_tree, tmp_path, capsys):
    _rewrite_pin(signed_tree, "digits/digits.npz", (signed_tree / "clinic/clinic.npz").read_bytes())
    forger = generate_signing_key(tmp_path / "forger.key")  # the attacker re-signs with their own key
    (signed_tree / PUBLIC_KEY_NAME).write_bytes(public_key_pem(forger.public_key()))
    manifest = (signed_tree / MANIFEST_NAME).read_bytes()
    (signed_tree / SIGNATURE_NAME).write_bytes(base64.b64encode(forger.sign(manifest)) + b"\n")
    with pytest.raises(IntegrityError, match=f"{PUBLIC_KEY_NAME} has been replaced") as info:
        load_digits("test")
    assert key_fingerprint(forger.public_key()) in str(info.value)
    assert main(["doctor"]) == 1
    assert "has been replaced" in capsys.readouterr().out
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    (signed_tree / PUBLIC_KEY_NAME).write_bytes(public_key_pem(other))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError, match="has been replaced"):
        load_digits("test")
    (signed_tree / PUBLIC_KEY_NAME).write_text("garbage")
    with pytest.raises(IntegrityError, match="not a PEM public key"):
        load_digits("test")
    (signed_tree / PUBLIC_KEY_NAME).unlink()
    with pytest.raises(IntegrityError, match="public key, is missing"):
        load_digits("test")


def test_copy_with_the_shipped_signature_loads(tmp_path, monkeypatch):
    target = copy_datasets(tmp_path, "digits/digits.npz")
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    assert load_digits("test")[0].shape[0] == 1000


def test_rewriting_the_manifest_re_signs_with_the_key_or_says_it_is_unsigned(
    signed_tree, tmp_path, monkeypatch
):
    digest = read_manifest(signed_tree)["digits/digits.npz"]
    assert write_manifest_entry("digits/digits.npz", digest, signed_tree) is True
    assert integrity.signature_problem(signed_tree) is None
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(tmp_path / "no-such.key"))
    (signed_tree / "extra.bin").write_bytes(b"new artifact")
    assert (
        write_manifest_entry("extra.bin", hashlib.sha256(b"new artifact").hexdigest(), signed_tree) is False
    )
    assert not (signed_tree / SIGNATURE_NAME).exists()
    with pytest.raises(IntegrityError, match="is not signed"):
        load_digits("test")


def test_labkit_data_sign_signs_only_a_consistent_manifest_with_the_pinned_key(
    signed_tree, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(tmp_path / "no-such.key"))
    (signed_tree / "extra.bin").write_bytes(b"new artifact")
    write_manifest_entry("extra.bin", hashlib.sha256(b"new artifact").hexdigest(), signed_tree)
    assert "UNSIGNED" in capsys.readouterr().err
    assert main(["data", "sign"]) == 2
    assert "No manifest signing key" in capsys.readouterr().err
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(tmp_path / "keys" / "signing.key"))
    (signed_tree / "extra.bin").write_bytes(b"changed after the pin")
    with pytest.raises(IntegrityError, match="Refusing to sign: datasets/extra.bin"):
        sign_manifest(signed_tree)
    (signed_tree / "extra.bin").write_bytes(b"new artifact")
    assert main(["data", "sign"]) == 0
    assert verify("extra.bin").data == b"new artifact"
    other = tmp_path / "other.key"
    generate_signing_key(other)
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(other))
    assert main(["data", "sign"]) == 2
    assert "is not the pinned course key" in capsys.readouterr().err


def test_generate_signing_key_never_overwrites(tmp_path):
    path = tmp_path / "k.key"
    generate_signing_key(path)
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(FileExistsError, match="already exists"):
        generate_signing_key(path)


def test_maintainer_commands_re_sign_or_say_the_manifest_is_unsigned(
    signed_tree, tmp_path, monkeypatch, capsys
):
    assert main(["zoo", "answer-key"]) == 0
    assert "re-signed" in capsys.readouterr().out
    assert integrity.signature_problem(signed_tree) is None
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(tmp_path / "no-such.key"))
    assert main(["zoo", "answer-key"]) == 0
    captured = capsys.readouterr()
    assert "UNSIGNED" in captured.out and "labkit data sign" in captured.out and "UNSIGNED" in captured.err
    assert main(["doctor"]) == 1
    assert "is not signed" in capsys.readouterr().out
