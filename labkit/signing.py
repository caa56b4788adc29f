"""The maintainer's manifest-signing key: where it lives, how it is made and read, its fingerprint.

The private key never enters the repository (docs/maintainers.md); `labkit.integrity` verifies the
manifest's signature against the public half whose fingerprint it pins.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from labkit import validate

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNING_KEY_ENV = "LABKIT_SIGNING_KEY"


def _key_path(path: Path | None) -> Path:
    """`path` as a Path (a str or os.PathLike), or the default key location when None."""
    return signing_key_path() if path is None else validate.path("path", path)


def _public(public_key: object, *, ed25519: bool = True) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    ok = isinstance(public_key, Ed25519PublicKey) if ed25519 else hasattr(public_key, "public_bytes")
    if not ok:
        allowed = "an Ed25519 public key" if ed25519 else "a public key (cryptography)"
        raise TypeError(f"public_key must be {allowed}, not {type(public_key).__name__}.")


def signing_key_path() -> Path:
    """The maintainer's private key: $LABKIT_SIGNING_KEY, else ~/.config/labkit/manifest-signing.key."""
    override = os.environ.get(SIGNING_KEY_ENV)
    return Path(override).expanduser() if override else Path.home() / ".config/labkit/manifest-signing.key"


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw Ed25519 public key: the value pinned as PUBLIC_KEY_FINGERPRINT."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    _public(public_key)
    return hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as the PEM text shipped in datasets/MANIFEST.pub."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    _public(public_key, ed25519=False)
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def generate_signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """Create a new Ed25519 private key at `path` (mode 0600, never overwriting a file); returns it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    path = _key_path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise FileExistsError(
            f"path {str(path)!r}: a signing key already exists there; move it away first."
        ) from error
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The maintainer's private key; a clear error if it is not on this machine."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = _key_path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No manifest signing key at {path}. Only the course maintainer holds it (see "
            f"docs/maintainers.md); set {SIGNING_KEY_ENV} to its path."
        )
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"path {str(path)!r} is not an unencrypted PEM private key ({error}).") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key.")
    return key
