"""Pin artifacts and installed dependencies by the SHA-256 of their bytes, and check the pins.

Why: a name ("digits_cnn.safetensors", "torch 2.14.1") says what you meant to load; only a hash of the
bytes says what you are about to load. A pin written at release time and checked before every load
turns a swapped file or a tampered installed package into a refusal instead of a surprise.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from labkit import validate as v
from labkit.integrity import sha256_file


def pin_files(paths: Sequence[Path | str], *, root: Path | str) -> dict[str, str]:
    """{path relative to root (POSIX): SHA-256 of the file's bytes} for every file in `paths`."""
    base = v.path("root", root, exists="dir").resolve()
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence) or not paths:
        raise TypeError(f"paths must be a non-empty list of file paths, not {paths!r:.60}.")
    pins: dict[str, str] = {}
    for index, item in enumerate(paths):
        path = v.path(f"paths[{index}]", item, exists="file").resolve()
        if not path.is_relative_to(base):
            raise ValueError(f"paths[{index}] {str(path)!r} is not under root {str(base)!r}.")
        pins[path.relative_to(base).as_posix()] = sha256_file(path)
    return pins


def check_pins(pins: Mapping[str, str], *, root: Path | str) -> list[str]:
    """Problems with the files under `root` against `pins` (empty list: every pin holds).

    A file whose bytes changed, a pinned file that is missing, and a file under root that no pin
    covers (something added) are each one problem line.
    """
    base = v.path("root", root, exists="dir").resolve()
    if not isinstance(pins, Mapping) or not pins:
        raise TypeError(f"pins must be a non-empty mapping of relative path to SHA-256, not {pins!r:.60}.")
    problems = []
    for name, digest in sorted(pins.items()):
        if not isinstance(name, str) or not isinstance(digest, str) or len(digest) != 64:
            raise ValueError(
                f"pins must map relative paths to 64-hex SHA-256 digests, not {name!r}: {digest!r}."
            )
        path = base / name
        if not path.is_file():
            problems.append(f"{name}: pinned but missing")
        elif sha256_file(path) != digest.lower():
            problems.append(
                f"{name}: bytes changed (sha256 {sha256_file(path)[:12]}..., pinned {digest[:12]}...)"
            )
    present = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}
    problems += [f"{name}: present but not pinned" for name in sorted(present - set(pins))]
    return problems


@dataclass(frozen=True)
class DistributionCheck:
    """An installed distribution's files checked against the hashes in its RECORD."""

    name: str
    version: str
    checked: int
    changed: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.changed and not self.missing


def verify_distribution(name: str) -> DistributionCheck:
    """Re-hash every installed file of distribution `name` and compare with its RECORD (what pip wrote
    at install time). Fails closed: a distribution whose RECORD lists no hash is not ok."""
    v.text("name", name)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise v.UnknownName(f"name {name!r}: no installed distribution has this name.") from None
    checked, changed, missing = 0, [], []
    for entry in dist.files or []:
        if entry.hash is None or entry.hash.mode != "sha256":
            continue
        path = Path(str(entry.locate()))
        if not path.is_file():
            missing.append(str(entry))
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
        checked += 1
        if digest != entry.hash.value:
            changed.append(str(entry))
    return DistributionCheck(dist.metadata["Name"], dist.version, checked, tuple(changed), tuple(missing))
