"""Manifest paths stay inside datasets/: absolute paths, '..' and symlinks out are refused, never hashed."""

from __future__ import annotations

import base64
import hashlib

import pytest

from labkit import integrity, signing
from labkit.cli import main
from labkit.integrity import MANIFEST_NAME, IntegrityError, parse_manifest, read_manifest, verify, verify_all
from tests.test_integrity_signing import make_signed_tree


@pytest.fixture
def signed_tree(tmp_path, monkeypatch):
    return make_signed_tree(tmp_path, monkeypatch)


def _pin_and_sign(root, name: str, digest: str) -> None:
    """A manifest line the (temporary) maintainer key really signed: only confinement can stop it."""
    with open(root / MANIFEST_NAME, "a") as handle:
        handle.write(f"{digest}  {name}\n")
    key = signing.load_signing_key()  # the fixture's key: signed as a careless maintainer would
    signature = base64.b64encode(key.sign((root / MANIFEST_NAME).read_bytes()))
    (root / integrity.SIGNATURE_NAME).write_bytes(signature + b"\n")


@pytest.mark.parametrize("name", ["../secret.txt", "../../etc/passwd", "digits/../../secret.txt", "ABSOLUTE"])
def test_paths_outside_datasets_are_refused_and_never_hashed(signed_tree, tmp_path, capsys, name):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside datasets/")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    name = str(secret) if name == "ABSOLUTE" else name
    _pin_and_sign(signed_tree, name, digest)
    with pytest.raises(IntegrityError, match="not allowed: entries must be relative paths inside datasets/"):
        read_manifest(signed_tree)
    with pytest.raises(IntegrityError, match="not allowed"):
        verify(name, signed_tree)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "not allowed" in out and "SHA-256 ok" not in out
    assert digest not in out  # the outside file was never hashed and compared
    with pytest.raises(IntegrityError, match="not allowed"):
        integrity.sign_manifest(signed_tree, check_files=False)  # nor will labkit sign such a line


def test_a_symlink_out_of_datasets_is_refused(signed_tree, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside datasets/")
    (signed_tree / "link.txt").symlink_to(secret)
    _pin_and_sign(signed_tree, "link.txt", hashlib.sha256(secret.read_bytes()).hexdigest())
    with pytest.raises(IntegrityError, match="resolves outside datasets/"):
        verify("link.txt")
    assert ("link.txt", None) not in verify_all()


def test_parse_manifest_rejects_malformed_and_duplicate_lines():
    digest = "a" * 64
    assert parse_manifest(f"{digest}  models/x.json\n") == {"models/x.json": digest}
    for text in (f"{digest}  /etc/passwd", f"{digest}  ..\\x", f"{digest}  a/../../b", f"{'z' * 64}  x"):
        with pytest.raises(IntegrityError):
            parse_manifest(text)
    with pytest.raises(IntegrityError, match="a second time"):
        parse_manifest(f"{digest}  x\n{digest}  x\n")
    with pytest.raises(IntegrityError, match="not allowed"):
        integrity.write_manifest_entry("../escape", digest)
