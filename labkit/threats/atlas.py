"""The pinned MITRE ATLAS edition (datasets/atlas/ATLAS.yaml, 5.6.0): tactics, techniques, mitigations and
case studies, read at run time through the signed manifest.

ATLAS ids change between editions, so the course cites ids of this one edition only, and a mistyped or
retired id is an error that lists the nearest valid ones. The file is read, hash-checked and parsed once
per process, on first use (nothing happens on import).
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit import validate as v

ATLAS_FILE = "atlas/ATLAS.yaml"
PINNED_VERSION = "5.6.0"
POOLS = ("techniques", "tactics", "mitigations", "case_studies")


@dataclass(frozen=True)
class Tactic:
    """An adversary's goal (a column of the ATLAS matrix), e.g. AML.TA0011 Impact."""

    id: str
    name: str


@dataclass(frozen=True)
class Technique:
    """How an adversary reaches a tactic; a sub-technique has a parent and inherits its tactics."""

    id: str
    name: str
    tactics: tuple[str, ...]
    parent: str | None

    @property
    def is_subtechnique(self) -> bool:
        return self.parent is not None


@dataclass(frozen=True)
class Mitigation:
    """A defence and the techniques it mitigates."""

    id: str
    name: str
    techniques: tuple[str, ...]


@dataclass(frozen=True)
class CaseStudy:
    """A documented attack or exercise and the techniques its procedure used, in order."""

    id: str
    name: str
    summary: str
    techniques: tuple[str, ...]


@dataclass(frozen=True)
class Atlas:
    """One ATLAS edition, indexed by id."""

    version: str
    tactics: dict[str, Tactic]
    techniques: dict[str, Technique]
    mitigations: dict[str, Mitigation]
    case_studies: dict[str, CaseStudy]

    def technique(self, technique_id: str) -> Technique:
        """The technique with this exact id; UnknownName listing the nearest valid ids if there is none."""
        v.text("technique_id", technique_id)
        found = self.techniques.get(technique_id)
        if found is None:
            raise v.UnknownName(self.unknown_message("technique_id", technique_id))
        return found

    def nearest_ids(self, text: str, *, k: int = 3, pool: str = "techniques") -> list[str]:
        """The k ids of `pool` closest to `text`, comparing it with each id and each name (difflib)."""
        v.text("text", text)
        v.positive_int("k", k)
        v.choice("pool", pool, POOLS)
        entries: dict[str, Any] = getattr(self, pool)
        upper, lower = text.strip().upper(), text.strip().lower()

        def score(entry: Any) -> float:
            by_id = difflib.SequenceMatcher(None, upper, entry.id.upper()).ratio()
            by_name = difflib.SequenceMatcher(None, lower, entry.name.lower()).ratio()
            return max(by_id, by_name)

        ranked = sorted(entries.values(), key=lambda entry: (-score(entry), entry.id))
        return [entry.id for entry in ranked[:k]]

    def unknown_message(self, name: str, value: str, *, pool: str = "techniques") -> str:
        """ "<name> '<value>' is not a ... of ATLAS <version>; nearest: ..." for error messages."""
        entries: dict[str, Any] = getattr(self, pool)
        nearest = ", ".join(f"{i} ({entries[i].name})" for i in self.nearest_ids(value or "?", pool=pool))
        what = pool[:-1].replace("_", " ")
        return f"{name} {value!r} is not a {what} id of ATLAS {self.version}; nearest valid ids: {nearest}."


def _field(where: str, record: Any, key: str) -> Any:
    if not isinstance(record, dict) or key not in record:
        raise ValueError(f"{where}: an entry lacks {key!r}; the file does not look like an ATLAS data file.")
    return record[key]


def _unique(ids: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def parse_atlas(raw: bytes, *, source: str = ATLAS_FILE) -> Atlas:
    """An Atlas from the bytes of an ATLAS data file (YAML, loaded with PyYAML's safe loader only)."""
    import yaml

    if not isinstance(raw, bytes):
        raise TypeError(f"raw must be the file's bytes, not {type(raw).__name__}.")
    v.text("source", source)
    where = f"raw ({source})"
    # The C implementation of the safe loader when present (same safety, about ten times faster).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(raw, Loader=loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        raise ValueError(f"{where} is not valid YAML ({error}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("matrices"), list) or not data["matrices"]:
        raise ValueError(f"{where} has no 'matrices' list; the file does not look like an ATLAS data file.")
    matrix = data["matrices"][0]
    tactics = {
        t["id"]: Tactic(_field(where, t, "id"), _field(where, t, "name"))
        for t in _field(where, matrix, "tactics")
    }
    raw_techniques = _field(where, matrix, "techniques")
    by_id = {_field(where, t, "id"): t for t in raw_techniques}
    techniques: dict[str, Technique] = {}
    for tid, t in by_id.items():
        parent = t.get("subtechnique-of")
        own = t.get("tactics") or (by_id.get(parent, {}).get("tactics") if parent else None) or []
        techniques[tid] = Technique(tid, _field(where, t, "name"), tuple(own), parent)
    mitigations = {
        _field(where, m, "id"): Mitigation(
            m["id"], _field(where, m, "name"), _unique([u["id"] for u in m.get("techniques") or []])
        )
        for m in _field(where, matrix, "mitigations")
    }
    studies = {
        _field(where, c, "id"): CaseStudy(
            c["id"],
            _field(where, c, "name"),
            str(c.get("summary", "")).strip(),
            _unique([step["technique"] for step in c.get("procedure") or [] if "technique" in step]),
        )
        for c in data.get("case-studies") or []
    }
    return Atlas(str(_field(where, data, "version")), tactics, techniques, mitigations, studies)


@functools.lru_cache(maxsize=4)
def _load(root: str | None) -> Atlas:
    from labkit.integrity import read_verified

    raw = read_verified(ATLAS_FILE, None if root is None else Path(root))
    atlas = parse_atlas(raw, source=f"datasets/{ATLAS_FILE}")
    if atlas.version != PINNED_VERSION:
        raise ValueError(f"datasets/{ATLAS_FILE} is ATLAS {atlas.version}; the course pins {PINNED_VERSION}.")
    return atlas


def load_atlas(root: str | Path | None = None) -> Atlas:
    """The pinned ATLAS edition from datasets/ (or `root`), hash-checked; parsed once per process."""
    base = None if root is None else str(v.path("root", root, exists="dir").resolve())
    return _load(base)


def technique(technique_id: str) -> Technique:
    """The pinned edition's technique with this id (UnknownName with the nearest valid ids if none)."""
    return load_atlas().technique(technique_id)


def nearest_ids(text: str, k: int = 3, *, pool: str = "techniques") -> list[str]:
    """The k ids of the pinned edition closest to `text` by id or name: the "did you mean" list."""
    return load_atlas().nearest_ids(text, k=k, pool=pool)


def check_ids(ids: Any, *, name: str = "ids", pool: str = "techniques") -> tuple[str, ...]:
    """The ids, each checked against the pinned edition; UnknownName naming the first unknown one."""
    v.text("name", name)
    v.choice("pool", pool, POOLS)
    if isinstance(ids, str) or not isinstance(ids, (list, tuple)):
        raise TypeError(f"{name} must be a list of ATLAS ids, not {ids!r}.")
    atlas = load_atlas()
    entries = getattr(atlas, pool)
    for index, item in enumerate(ids):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{index}] must be an ATLAS id (a string), not {item!r}.")
        if item not in entries:
            raise v.UnknownName(atlas.unknown_message(f"{name}[{index}]", item, pool=pool))
    return tuple(ids)
