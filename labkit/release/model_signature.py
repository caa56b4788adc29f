"""Sign a model directory offline with a local elliptic-curve key, and verify it (model-signing 1.1.1).

Threat model: between the training job and the serving host, an attacker can change, add or remove
files in the model's directory (a compromised artifact store, a man in the middle of a copy) but does
not hold the release team's private key. Verification then fails for a flipped byte, an extra or a
missing file, or a signature made with another key. Signing says who released the bytes, not that
they are good: the release gate decides that before signing.

The signature is an OpenSSF model-signing bundle (Sigstore bundle format, DSSE envelope over an in-toto
statement listing every file's SHA-256). Keys are P-256 (model-signing refuses Ed25519 keys).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from labkit import validate as v

_CURVES = ("secp256r1", "secp384r1", "secp521r1")


@dataclass(frozen=True)
class KeyPair:
    """Where a generated key pair was written (PEM files)."""

    private_key: Path
    public_key: Path


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of a verification: ok, and the reason it failed ("" when ok)."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        """One line: VERIFIED or REJECTED with the reason."""
        return "VERIFIED" if self.ok else f"REJECTED: {self.reason}"


def _outside_repository(name: str, path: Path) -> None:
    from labkit.paths import repo_root

    root = repo_root().resolve()
    if path.resolve().is_relative_to(root):
        raise ValueError(
            f"{name} {str(path)!r} is inside the course repository ({root}); keep private keys out of "
            f"anything that is committed (use a temporary or your labkit directory)."
        )


def generate_signing_key(directory: Path | str, *, name: str = "release") -> KeyPair:
    """Write a new P-256 key pair to `directory` as NAME.key (private, mode 600) and NAME.pub.

    Refuses a directory inside the course repository and an existing key file (never overwrite a key).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = v.path("directory", directory)
    v.text("name", name)
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"name must be letters, digits, '-' and '_' (it names a file), not {name!r}.")
    _outside_repository("directory", folder)
    private, public = folder / f"{name}.key", folder / f"{name}.pub"
    for path in (private, public):
        if path.exists():
            raise FileExistsError(f"directory already holds {path.name}; choose another name.")
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    handle = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "wb") as stream:
        stream.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(private, public)


def sign_model(model_dir: Path | str, *, private_key: Path | str, signature: Path | str) -> Path:
    """Sign every file under `model_dir` with the PEM `private_key`; write the bundle to `signature`.

    Returns the signature path. Raises ValueError for a key model-signing cannot use (Ed25519, RSA).
    """
    from model_signing import signing

    folder = v.path("model_dir", model_dir, exists="dir")
    key = v.path("private_key", private_key, exists="file")
    target = v.path("signature", signature)
    if not any(p.is_file() for p in folder.rglob("*")):
        raise ValueError(f"model_dir {str(folder)!r} holds no file: there is nothing to sign.")
    _check_key(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    signing.Config().use_elliptic_key_signer(private_key=key).sign(folder, target)
    return target


def _check_key(key: Path) -> None:
    """Refuse, with a clear error, a private key model-signing's key mode cannot use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"private_key {str(key)!r} is not an unencrypted PEM private key ({error})."
        ) from None
    curve = getattr(loaded, "curve", None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or curve is None or curve.name not in _CURVES:
        kind = curve.name if curve is not None else type(loaded).__name__.lstrip("_")
        raise ValueError(
            f"private_key {str(key)!r} is a {kind} key; model-signing signs with elliptic-curve keys on "
            f"{', '.join(_CURVES)} (Ed25519 is refused): use generate_signing_key."
        )


def verify_model(model_dir: Path | str, *, public_key: Path | str, signature: Path | str) -> SignatureCheck:
    """Check `model_dir` against the `signature` bundle and the PEM `public_key`.

    Fails closed: a missing directory, signature or key, an unreadable bundle, another key, or any file
    changed, added or removed gives ok=False with the reason; it never raises for those.
    """
    folder = v.path("model_dir", model_dir)
    key = v.path("public_key", public_key)
    bundle = v.path("signature", signature)
    for what, path, is_ok in (
        ("model directory", folder, folder.is_dir()),
        ("signature", bundle, bundle.is_file()),
        ("public key", key, key.is_file()),
    ):
        if not is_ok:
            return SignatureCheck(False, f"no {what} at {path}: nothing verifies without it")
    from model_signing import verifying

    try:
        verifying.Config().use_elliptic_key_verifier(public_key=key).verify(folder, bundle)
    except Exception as error:  # noqa: BLE001 - every failure to verify is a rejection with its reason
        reason = " ".join(str(error).split()) or type(error).__name__
        # "Hash mismatch for 'f': Expected 'Digest(... raw bytes ...)'": name the file, drop the bytes
        reason = re.sub(
            r"(Hash mismatch for '[^']+'): Expected .*?(?=\"\]$|\", \"|$)", r"\1 (content differs)", reason
        )
        return SignatureCheck(False, reason[:400])
    return SignatureCheck(True, "")
