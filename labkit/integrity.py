"""SHA-256 checksums of every shipped artifact, in one `sha256sum`-compatible manifest signed offline.

datasets/MANIFEST.sha256 pins each file's hash; datasets/MANIFEST.sha256.sig is a detached Ed25519
signature over the manifest's exact bytes, made by a maintainer with a key that never enters the
repository; datasets/MANIFEST.pub is the public half, and its fingerprint is pinned here
(`PUBLIC_KEY_FINGERPRINT`) so that replacing the key file is detected too. Loading checks the signature,
then the file's hash, and hands back the very bytes it hashed (no reopen between check and use).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from labkit import validate
from labkit.paths import datasets_dir
from labkit.signing import key_fingerprint, load_signing_key, signing_key_path

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST_NAME = "MANIFEST.sha256"
SIGNATURE_NAME = MANIFEST_NAME + ".sig"
PUBLIC_KEY_NAME = "MANIFEST.pub"
# SHA-256 of the raw 32-byte Ed25519 public key in datasets/MANIFEST.pub (docs/maintainers.md: rotation).
PUBLIC_KEY_FINGERPRINT = "a5e7ebfa23f50b5238166db35c7b4d3983e002ab1f5806e8ebadef1074ff149b"
RESTORE = (
    "`git diff datasets/` shows what changed; restore the shipped files with `git checkout -- datasets/`."
)


class IntegrityError(RuntimeError):
    """A shipped file, the manifest, its signature or the public key is missing or altered."""


def _root(root: Path | None) -> Path:
    """The datasets/ directory to work on: `root` (a path to a directory) or the course's own."""
    return datasets_dir() if root is None else validate.path("root", root, exists="dir")


def sha256_file(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    chunk_size = validate.positive_int("chunk_size", chunk_size)
    validate.path("path", path, exists="file")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# --- the manifest's signature ---------------------------------------------------------------------


def _public_key(root: Path) -> Ed25519PublicKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    path = root / PUBLIC_KEY_NAME
    if not path.is_file():
        raise IntegrityError(f"datasets/{PUBLIC_KEY_NAME}, the manifest's public key, is missing. {RESTORE}")
    try:
        key = load_pem_public_key(path.read_bytes())
    except (ValueError, UnsupportedAlgorithm) as error:
        raise IntegrityError(
            f"datasets/{PUBLIC_KEY_NAME} is not a PEM public key ({error}). {RESTORE}"
        ) from None
    found = key_fingerprint(key) if isinstance(key, Ed25519PublicKey) else type(key).__name__
    if not isinstance(key, Ed25519PublicKey) or found != PUBLIC_KEY_FINGERPRINT:
        raise IntegrityError(
            f"datasets/{PUBLIC_KEY_NAME} has been replaced: it is not the course's signing key "
            f"(fingerprint {found}; labkit pins {PUBLIC_KEY_FINGERPRINT}). Nothing signed with it can "
            f"be trusted. {RESTORE}"
        )
    return key


def verified_manifest_bytes(root: Path | None = None) -> bytes:
    """The manifest's bytes, after checking the pinned public key and the detached signature."""
    from cryptography.exceptions import InvalidSignature

    root = _root(root)
    key = _public_key(root)
    data = (root / MANIFEST_NAME).read_bytes()
    sig_path = root / SIGNATURE_NAME
    if not sig_path.is_file():
        raise IntegrityError(
            f"datasets/{MANIFEST_NAME} is not signed (datasets/{SIGNATURE_NAME} is missing), so none of "
            f"its hashes can be trusted. {RESTORE} A maintainer who has just rebuilt data or a model "
            f"reviews `git diff datasets/` and signs it with `labkit data sign`."
        )
    try:
        key.verify(base64.b64decode(sig_path.read_bytes().strip(), validate=True), data)
    except (ValueError, InvalidSignature):
        raise IntegrityError(
            f"datasets/{MANIFEST_NAME} does not match its signature datasets/{SIGNATURE_NAME}: the "
            f"manifest or the signature was changed after the course maintainer signed it, so none of "
            f"its hashes can be trusted. Do not use the data or models. {RESTORE}"
        ) from None
    return data


def signature_problem(root: Path | None = None) -> str | None:
    """None if the manifest verifies against the pinned key, else what is wrong."""
    try:
        verified_manifest_bytes(root)
    except IntegrityError as error:
        return str(error)
    return None


def sign_manifest(root: Path | None = None, *, key_path: Path | None = None, check_files: bool = True) -> str:
    """Sign datasets/MANIFEST.sha256 and return the key's fingerprint (`labkit data sign`).

    Refuses a key whose public half is not the pinned one or not the shipped MANIFEST.pub, a manifest
    with a path outside datasets/, and (with `check_files`) a pinned file whose bytes differ.
    """
    root = _root(root)
    key = load_signing_key(key_path)
    found = key_fingerprint(key.public_key())
    if found != PUBLIC_KEY_FINGERPRINT:
        raise ValueError(
            f"The key at {key_path or signing_key_path()} (fingerprint {found}) is not the pinned "
            f"course key ({PUBLIC_KEY_FINGERPRINT}); a manifest signed with it would be refused. To "
            f"rotate keys follow docs/maintainers.md."
        )
    _public_key(root)  # the shipped public half must be the pinned one too
    data = (root / MANIFEST_NAME).read_bytes()
    manifest = parse_manifest(data.decode("utf-8"))
    for relative, expected in manifest.items() if check_files else ():
        actual = hashlib.sha256(_read_confined(root, relative)).hexdigest()
        if actual != expected:
            raise IntegrityError(
                f"Refusing to sign: datasets/{relative} has SHA-256 {actual}, the manifest pins {expected}."
            )
    tmp = root / (SIGNATURE_NAME + ".tmp")
    tmp.write_bytes(base64.b64encode(key.sign(data)) + b"\n")
    tmp.replace(root / SIGNATURE_NAME)
    return found


# --- the manifest --------------------------------------------------------------------------------


def check_relative(name: str, *, argument: str = "name") -> str:
    """`name` if it is a plain relative path inside datasets/; IntegrityError if absolute or with '..'.

    `argument` names it in the error (an argument such as `relative`, or a manifest line)."""
    validate.text(argument, name, empty=True)
    parts = PurePosixPath(name).parts
    if not name or "\\" in name or "\0" in name or PurePosixPath(name).is_absolute() or ".." in parts:
        raise IntegrityError(
            f"{argument} {name!r} is not allowed: entries must be relative paths inside datasets/ "
            f"(not absolute, no '..'). {RESTORE}"
        )
    return name


def parse_manifest(text: str, *, where: str = f"datasets/{MANIFEST_NAME}") -> dict[str, str]:
    """Map of relative path -> SHA-256 from manifest text; every path is checked to stay in datasets/."""
    validate.text("text", text, empty=True)
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        name = name.strip()
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise IntegrityError(f"{where}, line {number} is not '<sha256>  <path>': {line!r}. {RESTORE}")
        try:
            check_relative(name, argument="path")
        except IntegrityError as error:
            raise IntegrityError(f"{where}, line {number}: {error}") from None
        if name in entries:
            raise IntegrityError(f"{where}, line {number} pins {name!r} a second time. {RESTORE}")
        entries[name] = digest.lower()
    return entries


def read_manifest(root: Path | None = None) -> dict[str, str]:
    """Map of relative path -> expected SHA-256 from datasets/MANIFEST.sha256, signature checked first."""
    return parse_manifest(verified_manifest_bytes(root).decode("utf-8"))


def write_manifest_entry(relative: str, digest: str, root: Path | None = None) -> bool:
    """Add or replace one manifest line (build and zoo-training commands), then re-sign the manifest.

    Re-signs only when the maintainer's key is here and the manifest verified before this change (so a
    tampered line is never signed over); otherwise removes the stale signature, says so on stderr and
    returns False: a maintainer must review `git diff datasets/` and run `labkit data sign`.
    """
    import fcntl

    root = _root(root)
    check_relative(relative, argument="relative")
    validate.text("digest", digest)
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"digest must be a SHA-256 in lowercase hex (64 characters), not {digest!r}.")
    with open(root / (MANIFEST_NAME + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two builds at once must not drop each other's line
        trusted = signature_problem(root) is None
        entries = parse_manifest((root / MANIFEST_NAME).read_text(encoding="utf-8"))
        entries[relative] = digest
        lines = [f"{entries[name]}  {name}" for name in sorted(entries)]
        tmp = root / (MANIFEST_NAME + ".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(root / MANIFEST_NAME)
        reason = "" if trusted else "it did not verify before this change"
        if trusted:
            try:
                sign_manifest(root, check_files=False)  # the other builds' files may be mid-write
                return True
            except (FileNotFoundError, ValueError, IntegrityError) as error:
                reason = str(error)
        (root / SIGNATURE_NAME).unlink(missing_ok=True)
        print(
            f"labkit: datasets/{MANIFEST_NAME} now pins {relative} but is UNSIGNED ({reason}); labkit "
            f"refuses to load anything until a maintainer reviews `git diff datasets/` and runs "
            f"`labkit data sign`.",
            file=sys.stderr,
        )
        return False


def _read_confined(root: Path, relative: str) -> bytes:
    """The bytes of datasets/<relative>, refusing paths that resolve (through symlinks) outside it."""
    path = root / check_relative(relative)
    if not path.resolve().is_relative_to(root.resolve()):
        raise IntegrityError(f"datasets/{relative} resolves outside datasets/ (a symlink?). {RESTORE}")
    if not path.is_file():
        raise IntegrityError(
            f"datasets/{relative} is missing (expected at {path}). "
            f"Restore it with `git checkout -- datasets/{relative}`."
        )
    return path.read_bytes()


@dataclass(frozen=True)
class VerifiedFile:
    """A shipped file whose bytes matched the signed manifest; `data` holds exactly those bytes."""

    path: Path
    sha256: str
    data: bytes = field(repr=False)


def _verify_entry(relative: str, root: Path, manifest: dict[str, str]) -> VerifiedFile:
    if relative not in manifest:
        raise IntegrityError(
            f"datasets/{relative} is not listed in datasets/{MANIFEST_NAME}, so it cannot be "
            f"trusted. Only load files the manifest pins."
        )
    data = _read_confined(root, relative)
    actual = hashlib.sha256(data).hexdigest()
    expected = manifest[relative]
    if actual != expected:
        raise IntegrityError(
            f"datasets/{relative} has been altered: expected SHA-256 {expected}, "
            f"got {actual}. Do not use it. Restore it with `git checkout -- datasets/{relative}`, or "
            f"rebuild it with the command in datasets/README.md and review the manifest change."
        )
    return VerifiedFile(path=root / relative, sha256=actual, data=data)


def verify(relative: str, root: Path | None = None) -> VerifiedFile:
    """Check the manifest's signature, then one shipped file; load from the returned `.data` bytes."""
    root = _root(root)
    manifest = read_manifest(root)
    if check_relative(relative, argument="relative") not in manifest:
        raise IntegrityError(
            f"relative {relative!r} is not listed in datasets/{MANIFEST_NAME}: only pinned files load."
        )
    return _verify_entry(relative, root, manifest)


def read_verified(relative: str, root: Path | None = None) -> bytes:
    """The bytes of a shipped file, read once and checked against the signed manifest."""
    return verify(relative, root).data


def verify_all(root: Path | None = None) -> list[tuple[str, str | None]]:
    """Verify the signature, then every entry; (path, error or None) per file, or one manifest error."""
    root = _root(root)
    try:
        manifest = read_manifest(root)
    except IntegrityError as error:
        return [(MANIFEST_NAME, str(error))]
    results: list[tuple[str, str | None]] = []
    for relative in sorted(manifest):
        try:
            _verify_entry(relative, root, manifest)
            results.append((relative, None))
        except IntegrityError as error:
            results.append((relative, str(error)))
    return results
