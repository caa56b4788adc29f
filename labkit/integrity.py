"""SHA-256 checksums of every shipped artifact, kept in one `sha256sum`-compatible manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from labkit.paths import datasets_dir

MANIFEST_NAME = "MANIFEST.sha256"


class IntegrityError(RuntimeError):
    """A shipped file is missing or does not match the hash pinned in the manifest."""


def sha256_file(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(root: Path | None = None) -> dict[str, str]:
    """Map of relative path -> expected SHA-256, parsed from datasets/MANIFEST.sha256."""
    root = root or datasets_dir()
    entries: dict[str, str] = {}
    text = (root / MANIFEST_NAME).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise IntegrityError(
                f"{root / MANIFEST_NAME}, line {number} is not '<sha256>  <path>': {line!r}. "
                f"Restore the manifest with `git checkout -- datasets/{MANIFEST_NAME}`."
            )
        entries[name.strip()] = digest.lower()
    return entries


def write_manifest_entry(relative: str, digest: str, root: Path | None = None) -> None:
    """Add or replace one manifest line (used by the build and zoo-training commands)."""
    import fcntl

    root = root or datasets_dir()
    with open(root / (MANIFEST_NAME + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two builds at once must not drop each other's line
        entries = read_manifest(root)
        entries[relative] = digest
        lines = [f"{entries[name]}  {name}" for name in sorted(entries)]
        tmp = root / (MANIFEST_NAME + ".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(root / MANIFEST_NAME)


@dataclass(frozen=True)
class VerifiedFile:
    """A shipped file whose bytes matched the manifest."""

    path: Path
    sha256: str


def verify(relative: str, root: Path | None = None) -> VerifiedFile:
    """Check one shipped file against the manifest; raise IntegrityError with the fix if not."""
    root = root or datasets_dir()
    manifest = read_manifest(root)
    restore = f"Restore it with `git checkout -- datasets/{relative}`"
    if relative not in manifest:
        raise IntegrityError(
            f"datasets/{relative} is not listed in datasets/{MANIFEST_NAME}, so it cannot be "
            f"trusted. Only load files the manifest pins."
        )
    path = root / relative
    if not path.is_file():
        raise IntegrityError(f"datasets/{relative} is missing (expected at {path}). {restore}.")
    actual = sha256_file(path)
    expected = manifest[relative]
    if actual != expected:
        raise IntegrityError(
            f"datasets/{relative} has been altered: expected SHA-256 {expected}, "
            f"got {actual}. Do not use it. {restore}, or rebuild it with the command in "
            f"datasets/README.md and review the manifest change."
        )
    return VerifiedFile(path=path, sha256=actual)


def verify_all(root: Path | None = None) -> list[tuple[str, str | None]]:
    """Verify every manifest entry; returns (path, error message or None) per file."""
    root = root or datasets_dir()
    results: list[tuple[str, str | None]] = []
    for relative in sorted(read_manifest(root)):
        try:
            verify(relative, root)
            results.append((relative, None))
        except IntegrityError as error:
            results.append((relative, str(error)))
    return results
