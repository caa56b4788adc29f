"""Data provenance for a training set: a per-record hash manifest, its signature, and a tamper diff.

Threat model: the attacker can write to the data store after the data owner signed the dataset off
(an insider with bucket access, a compromised export job) but does not hold the owner's signing key.
Any record they alter, inject or remove then shows up in `diff_manifests`, and a manifest they
recompute to cover their tracks fails `verify_manifest`. Provenance cannot see poison that was already
in the data when it was signed (a corrupt labelling vendor): `labkit.defenses.poison_filters` looks for that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from labkit import validate as v

FORMAT = "labkit-provenance-manifest/1"


def record_hash(image: torch.Tensor, label: int | torch.Tensor) -> str:
    """Hex SHA-256 of one record: its label, its shape and its pixels as little-endian float32 bytes."""
    v.tensor("image", image, finite=False, empty=True)
    if isinstance(label, torch.Tensor):
        if label.numel() != 1 or label.is_floating_point() or label.dtype == torch.bool:
            raise ValueError(
                f"label must be one integer class, not a tensor of shape {tuple(label.shape)} "
                f"and dtype {label.dtype}."
            )
        label = int(label)
    label = v.integer("label", label, low=0)
    pixels = np.ascontiguousarray(image.detach().cpu().to(torch.float32).numpy(), dtype="<f4")
    digest = hashlib.sha256()
    digest.update(f"label={int(label)};shape={'x'.join(map(str, pixels.shape))};".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def record_hashes(x: torch.Tensor, y: torch.Tensor) -> list[str]:
    """One `record_hash` per row of (x, y), in order."""
    v.tensor("x", x, finite=False)
    v.labels("y", y)
    v.same_length(x=x, y=y)
    return [record_hash(image, label) for image, label in zip(x, y.tolist(), strict=True)]


def default_ids(count: int, *, prefix: str = "rec") -> list[str]:
    """Record ids "rec-00000", "rec-00001", ... for a dataset that has no ids of its own."""
    count = v.nonnegative_int("count", count)
    v.text("prefix", prefix, empty=True)
    return [f"{prefix}-{i:05d}" for i in range(count)]


@dataclass(frozen=True)
class Manifest:
    """Record id -> SHA-256 of the record, for every record of a dataset."""

    records: Mapping[str, str]
    description: str = ""

    def __len__(self) -> int:
        return len(self.records)

    @property
    def digest(self) -> str:
        """SHA-256 over the sorted "id  hash" lines: one value that pins the whole dataset."""
        lines = "".join(f"{rid}  {self.records[rid]}\n" for rid in sorted(self.records))
        return hashlib.sha256(lines.encode()).hexdigest()

    def to_json(self) -> str:
        payload = {
            "format": FORMAT,
            "description": self.description,
            "digest": self.digest,
            "records": dict(sorted(self.records.items())),
        }
        return json.dumps(payload, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse `to_json` output; refuses other formats and a digest that does not match the records."""
        payload = json.loads(text)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} manifest (its 'format' field is missing or different).")
        manifest = cls(records=dict(payload["records"]), description=payload.get("description", ""))
        if payload.get("digest") != manifest.digest:
            raise ValueError("the manifest's records do not match its recorded digest: it was edited.")
        return manifest

    def save(self, path: str | Path) -> Path:
        """Write the manifest as JSON (atomically: a temporary file, then a rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def build_manifest(
    x: torch.Tensor, y: torch.Tensor, *, ids: Sequence[str] | None = None, description: str = ""
) -> Manifest:
    """Hash every record of (x, y) under its id (default: rec-00000, rec-00001, ... by position)."""
    v.tensor("x", x, finite=False)
    v.labels("y", y)
    v.same_length(x=x, y=y)
    if ids is not None and (isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence)):
        raise TypeError(f"ids must be a list of record ids, not {ids!r:.60}.")
    ids = default_ids(len(y)) if ids is None else [str(i) for i in ids]
    if len(ids) != len(y):
        raise ValueError(f"ids must give one id per record: got {len(ids)} ids for {len(y)} records.")
    hashes = record_hashes(x, y)
    records: dict[str, str] = {}
    for rid, digest in zip(ids, hashes, strict=True):
        if rid in records:
            raise ValueError(
                f"ids must be unique, but record id {rid!r} appears more than once (a duplicate id is "
                f"itself a sign of tampering or of a broken export)."
            )
        records[rid] = digest
    return Manifest(records=records, description=description)


def _key(key: bytes | str) -> bytes:
    if not isinstance(key, (str, bytes, bytearray)):
        raise TypeError(f"key must be bytes or a string, not {type(key).__name__}.")
    data = key.encode() if isinstance(key, str) else bytes(key)
    if len(data) < 16:
        raise ValueError(f"key must be at least 16 bytes (e.g. secrets.token_bytes(32)), got {len(data)}.")
    return data


def _manifest(manifest: object) -> Manifest:
    if not isinstance(manifest, Manifest):
        raise TypeError(f"manifest must be a Manifest (see build_manifest), not {type(manifest).__name__}.")
    return manifest


def sign_manifest(manifest: Manifest, *, key: bytes | str) -> str:
    """HMAC-SHA256 of the manifest's digest with the data owner's secret key (hex)."""
    _manifest(manifest)
    return hmac.new(_key(key), manifest.digest.encode(), hashlib.sha256).hexdigest()


def verify_manifest(manifest: Manifest, signature: str, *, key: bytes | str) -> bool:
    """True if `signature` is the owner's signature of exactly this manifest (constant-time compare)."""
    v.text("signature", signature, empty=True)
    return hmac.compare_digest(sign_manifest(manifest, key=key), signature)


@dataclass(frozen=True)
class ManifestDiff:
    """What changed between a reference manifest and the dataset as it is now (sorted record ids)."""

    altered: tuple[str, ...]
    injected: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int = field(default=0)

    @property
    def clean(self) -> bool:
        """True if nothing was altered, injected or removed."""
        return not (self.altered or self.injected or self.removed)

    @property
    def suspect(self) -> tuple[str, ...]:
        """Records present now that the reference does not vouch for: altered + injected."""
        return tuple(sorted(self.altered + self.injected))

    def __str__(self) -> str:
        return (
            f"{self.unchanged} unchanged, {len(self.altered)} altered, {len(self.injected)} injected, "
            f"{len(self.removed)} removed"
        )


def _records(manifest: Manifest | Mapping[str, str], name: str) -> Mapping[str, str]:
    records = manifest.records if isinstance(manifest, Manifest) else manifest
    if not isinstance(records, Mapping):
        raise TypeError(f"{name} must be a Manifest or a mapping of record id to hash, not {records!r:.60}.")
    bad = next(((k, h) for k, h in records.items() if not isinstance(k, str) or not isinstance(h, str)), None)
    if bad is not None:
        raise TypeError(f"{name} must map string record ids to string hashes, not {bad[0]!r}: {bad[1]!r}.")
    return records


def diff_manifests(
    reference: Manifest | Mapping[str, str], current: Manifest | Mapping[str, str]
) -> ManifestDiff:
    """Compare records by id: same id and other hash = altered; only now = injected; only before = removed.

    Order does not matter, and an injected copy of an existing record (same content, new id) is still
    injected: the comparison is by id, never by content alone.
    """
    before, now = _records(reference, "reference"), _records(current, "current")
    altered = sorted(rid for rid in now if rid in before and now[rid] != before[rid])
    injected = sorted(rid for rid in now if rid not in before)
    removed = sorted(rid for rid in before if rid not in now)
    unchanged = sum(1 for rid in now if rid in before and now[rid] == before[rid])
    return ManifestDiff(tuple(altered), tuple(injected), tuple(removed), unchanged)


def positions(ids: Sequence[str], wanted: Iterable[str]) -> torch.Tensor:
    """Sorted int64 positions in `ids` of the records named in `wanted` (to index x and y)."""
    for name, value in (("ids", ids), ("wanted", wanted)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"{name} must be a list of record ids, not {value!r:.60}.")
    wanted = list(wanted)
    where = {rid: i for i, rid in enumerate(ids)}
    missing = [rid for rid in wanted if rid not in where]
    if missing:
        raise v.UnknownName(f"wanted: {len(missing)} ids are not in this dataset, e.g. {missing[0]!r}.")
    return torch.tensor(sorted(where[rid] for rid in wanted), dtype=torch.int64)
