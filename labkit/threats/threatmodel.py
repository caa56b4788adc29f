"""A small threat-model structure: components and actors in trust zones, assets, data flows, threats tied
to catalogue entries and pinned ATLAS ids, mitigations and the security requirements they become.

A data flow between two zones crosses the trust boundary between them; that is where threats live.
`problems()` lists everything wrong at once (unknown references, mistyped ATLAS ids with the nearest valid
ones, threats with no mitigation...), `validate()` raises with that list. Rendering (Markdown, data-flow
diagram, ATLAS Navigator layer) is in `labkit.threats.threatmodel_render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit import validate as v
from labkit.threats.classes import ATTACK_CLASSES
from labkit.threats.requirement_kinds import Requirement

KINDS = ("process", "store", "external")
PROPERTIES = ("confidentiality", "integrity", "availability")


class ThreatModelError(ValueError):
    """A threat model with problems; the message lists every one."""


@dataclass(frozen=True)
class Component:
    """Something in the system: a process (training, the API), a store (the artifact store) or an external
    entity, placed in a trust zone."""

    id: str
    name: str
    zone: str
    kind: str = "process"


@dataclass(frozen=True)
class Actor:
    """Someone who interacts with the system: trusted (an engineer) or not (a customer, a fraudster)."""

    id: str
    name: str
    zone: str
    trusted: bool = False


@dataclass(frozen=True)
class Asset:
    """What must be protected, and which properties of it matter."""

    id: str
    name: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class DataFlow:
    """Data moving from one component or actor to another, carrying some assets."""

    id: str
    source: str
    target: str
    data: str
    assets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Threat:
    """A way the system can be attacked: its catalogue entry, ATLAS techniques, what it targets (component,
    flow or asset ids) and the mitigations that answer it."""

    id: str
    title: str
    attack: str
    atlas: tuple[str, ...]
    targets: tuple[str, ...]
    mitigations: tuple[str, ...]


@dataclass(frozen=True)
class Mitigation:
    """A defence, and the ids of the security requirements that make it checkable."""

    id: str
    text: str
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThreatModel:
    """The whole model of one system."""

    system: str
    components: tuple[Component, ...]
    actors: tuple[Actor, ...]
    assets: tuple[Asset, ...]
    flows: tuple[DataFlow, ...]
    threats: tuple[Threat, ...]
    mitigations: tuple[Mitigation, ...]
    requirements: tuple[Requirement, ...] = field(default=())

    def elements(self) -> list[Component | Actor]:
        """The components, then the actors."""
        return [*self.components, *self.actors]

    def element(self, element_id: str) -> Component | Actor:
        """The component or actor with this id."""
        for item in self.elements():
            if item.id == element_id:
                return item
        raise v.UnknownName(f"element_id {element_id!r} is neither a component nor an actor of this model.")


def _strings(where: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        return [f"{where} must be a tuple of ids, not {value!r}."]
    return [
        f"{where}[{i}] must be an id (a string), not {x!r}."
        for i, x in enumerate(value)
        if not isinstance(x, str)
    ]


def _shape_problems(model: ThreatModel) -> list[str]:
    """Types first: every list a tuple of the right records, every text a non-empty string."""
    expected: dict[str, type[Any]] = {
        "components": Component,
        "actors": Actor,
        "assets": Asset,
        "flows": DataFlow,
        "threats": Threat,
        "mitigations": Mitigation,
        "requirements": Requirement,
    }
    found: list[str] = []
    if not isinstance(model.system, str) or not model.system.strip():
        found.append(f"system must be a non-empty name, not {model.system!r}.")
    for name, cls in expected.items():
        items = getattr(model, name)
        if not isinstance(items, (tuple, list)):
            found.append(f"{name} must be a tuple of {cls.__name__} records, not {items!r}.")
            continue
        for index, item in enumerate(items):
            if not isinstance(item, cls):
                found.append(f"{name}[{index}] must be a {cls.__name__}, not {item!r}.")
            elif not isinstance(item.id, str) or not item.id.strip():
                found.append(f"{name}[{index}].id must be a non-empty string, not {item.id!r}.")
    return found


def problems(model: ThreatModel) -> list[str]:
    """Every problem of the model, one sentence each (empty when the model is consistent)."""
    from labkit.threats.atlas import load_atlas

    if not isinstance(model, ThreatModel):
        raise TypeError(f"model must be a ThreatModel, not {type(model).__name__}.")
    found = _shape_problems(model)
    if found:
        return found
    ids: dict[str, str] = {}
    for name in ("components", "actors", "assets", "flows", "threats", "mitigations", "requirements"):
        for item in getattr(model, name):
            if item.id in ids:
                found.append(f"id {item.id!r} is used twice ({ids[item.id]} and {name}).")
            ids[item.id] = name
    elements = {i.id for i in model.elements()}
    assets = {a.id for a in model.assets}
    for c in model.components:
        if c.kind not in KINDS:
            found.append(f"component {c.id} kind {c.kind!r} is not one of {', '.join(KINDS)}.")
    for a in model.assets:
        found += _strings(f"asset {a.id} properties", a.properties)
        bad = [p for p in a.properties if p not in PROPERTIES] if isinstance(a.properties, tuple) else []
        found += [f"asset {a.id} property {p!r} is not one of {', '.join(PROPERTIES)}." for p in bad]
    for f in model.flows:
        for end in ("source", "target"):
            if getattr(f, end) not in elements:
                found.append(f"flow {f.id} {end} {getattr(f, end)!r} is not a component or actor.")
        found += _strings(f"flow {f.id} assets", f.assets)
        found += [f"flow {f.id} carries unknown asset {a!r}." for a in f.assets if a not in assets]
    atlas = load_atlas()
    targets = elements | assets | {f.id for f in model.flows}
    mitigation_ids = {m.id for m in model.mitigations}
    for t in model.threats:
        if t.attack not in ATTACK_CLASSES:
            found.append(
                f"threat {t.id} attack {t.attack!r} is not a catalogue entry ({', '.join(ATTACK_CLASSES)})."
            )
        for where, values in (("atlas", t.atlas), ("targets", t.targets), ("mitigations", t.mitigations)):
            found += _strings(f"threat {t.id} {where}", values)
        if not t.atlas:
            found.append(f"threat {t.id} cites no ATLAS technique.")
        for technique in t.atlas:
            if technique not in atlas.techniques:
                found.append(f"threat {t.id}: " + atlas.unknown_message("atlas id", technique))
        found += [f"threat {t.id} targets unknown {x!r}." for x in t.targets if x not in targets]
        if not t.mitigations:
            found.append(f"threat {t.id} has no mitigation.")
        found += [
            f"threat {t.id} names unknown mitigation {m!r}." for m in t.mitigations if m not in mitigation_ids
        ]
    requirement_ids = {r.id for r in model.requirements}
    for m in model.mitigations:
        found += _strings(f"mitigation {m.id} requirements", m.requirements)
        found += [
            f"mitigation {m.id} names unknown requirement {r!r}."
            for r in m.requirements
            if r not in requirement_ids
        ]
    return found


def validate_model(model: ThreatModel) -> ThreatModel:
    """The model itself if it has no problems, else ThreatModelError listing them all."""
    found = problems(model)
    if found:
        listed = "\n".join(f"- {p}" for p in found)
        raise ThreatModelError(f"model has {len(found)} problem(s):\n{listed}")
    return model


def crossings(model: ThreatModel) -> list[tuple[DataFlow, str, str]]:
    """The flows that cross a trust boundary, with the zones they leave and enter."""
    validate_model(model)
    zone = {e.id: e.zone for e in model.elements()}
    return [(f, zone[f.source], zone[f.target]) for f in model.flows if zone[f.source] != zone[f.target]]


def coverage(model: ThreatModel) -> dict[str, tuple[str, ...]]:
    """Catalogue entry -> ids of the model's threats of that class (empty tuple: not considered)."""
    validate_model(model)
    return {key: tuple(t.id for t in model.threats if t.attack == key) for key in ATTACK_CLASSES}
