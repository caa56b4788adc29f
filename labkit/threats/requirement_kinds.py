"""The kinds of machine-checkable security requirement, as frozen dataclasses (the file format, saving
and loading are in `labkit.threats.requirements`, which re-exports everything here).

Each kind checks its own fields when built and raises `RequirementsError` naming the field, the value
and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from labkit import validate as v
from labkit.threats.classes import ATTACK_CLASSES

SCHEMA = "labkit.security-requirements"
VERSION = 1
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*-[0-9]+$")
NORMS = ("linf", "l2")
MEASURES = ("tpr_minus_fpr", "auc_minus_half")
COMMON = ("id", "kind", "text", "mitigates")


class RequirementsError(ValueError):
    """A requirement or a requirements file that is not valid; the message says where and why."""


def _fail(where: str, name: str, value: Any, allowed: str) -> RequirementsError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return RequirementsError(f"{where}{name} must be {allowed}, not {shown}.")


def _number(where: str, name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    bracket = "(" if low_open else "["
    allowed = f"a finite number in {bracket}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, name, value, allowed)
    number = float(value)
    if not math.isfinite(number) or number > high or (number <= low if low_open else number < low):
        raise _fail(where, name, value, allowed)
    return number


def _check_common(where: str, rid: Any, text: Any, mitigates: Any) -> None:
    if not isinstance(rid, str) or not ID_PATTERN.match(rid):
        raise _fail(where, "id", rid, 'an id such as "SR-3" (capitals, a dash, digits)')
    if not isinstance(text, str) or not text.strip():
        raise _fail(where, "text", text, "a non-empty sentence")
    if not isinstance(mitigates, str) or mitigates not in ATTACK_CLASSES:
        raise _fail(where, "mitigates", mitigates, f"a catalogue entry, one of {', '.join(ATTACK_CLASSES)}")


@dataclass(frozen=True)
class Requirement:
    """What every requirement has: an id, a sentence and the catalogue entry it mitigates."""

    kind: ClassVar[str] = ""
    id: str
    text: str
    mitigates: str

    def __post_init__(self) -> None:
        self.check(where="")

    def check(self, *, where: str) -> None:
        """Raise RequirementsError (prefixed by `where`) if a field is not allowed."""
        _check_common(where, self.id, self.text, self.mitigates)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of this requirement (kind included)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"id": values.pop("id"), "kind": self.kind, **values}


@dataclass(frozen=True)
class RobustAccuracy(Requirement):
    """Worst-case accuracy (over the attack ensemble) at `epsilon` under `norm` stays >= `minimum`."""

    kind: ClassVar[str] = "robust_accuracy"
    epsilon: float
    norm: str
    minimum: float
    samples: int

    def check(self, *, where: str) -> None:
        super().check(where=where)
        if self.norm not in NORMS:
            raise _fail(where, "norm", self.norm, f"one of {', '.join(NORMS)}")
        _number(where, "epsilon", self.epsilon, 0.0, 1.0 if self.norm == "linf" else 28.0, low_open=True)
        _number(where, "minimum", self.minimum, 0.0, 1.0)
        if (
            isinstance(self.samples, bool)
            or not isinstance(self.samples, int)
            or not 1 <= self.samples <= 10000
        ):
            raise _fail(where, "samples", self.samples, "an integer from 1 to 10000")


@dataclass(frozen=True)
class NoPickleArtifacts(Requirement):
    """No model artifact the system ships is a pickle (loading it could run code)."""

    kind: ClassVar[str] = "no_pickle_artifacts"


@dataclass(frozen=True)
class ArtifactSigned(Requirement):
    """Every model artifact the system ships carries a signature that verifies."""

    kind: ClassVar[str] = "artifact_signed"


@dataclass(frozen=True)
class MembershipAdvantage(Requirement):
    """A membership-inference attack's advantage (`measure`) stays <= `maximum`."""

    kind: ClassVar[str] = "membership_advantage"
    maximum: float
    measure: str

    def check(self, *, where: str) -> None:
        super().check(where=where)
        if self.measure not in MEASURES:
            raise _fail(where, "measure", self.measure, f"one of {', '.join(MEASURES)}")
        _number(where, "maximum", self.maximum, 0.0, 0.5 if self.measure == "auc_minus_half" else 1.0)


@dataclass(frozen=True)
class PredictionsLogged(Requirement):
    """Every prediction the service answers, and every request it refuses, is in the audit log."""

    kind: ClassVar[str] = "predictions_logged"


KINDS: dict[str, type[Requirement]] = {
    cls.kind: cls
    for cls in (RobustAccuracy, NoPickleArtifacts, ArtifactSigned, MembershipAdvantage, PredictionsLogged)
}


@dataclass(frozen=True)
class Requirements:
    """An ordered set of requirements for one system, ids unique."""

    system: str
    items: tuple[Requirement, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.system, str) or not self.system.strip():
            raise _fail("", "system", self.system, "a non-empty name of the system")
        if not isinstance(self.items, tuple) or not self.items:
            raise _fail("", "items", self.items, "a non-empty tuple of requirements")
        seen: set[str] = set()
        for index, item in enumerate(self.items):
            if not isinstance(item, Requirement) or type(item) is Requirement:
                raise _fail("", f"items[{index}]", item, f"a requirement of a kind ({', '.join(KINDS)})")
            if item.id in seen:
                raise _fail("", f"items[{index}].id", item.id, "unique (it repeats an earlier id)")
            seen.add(item.id)

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def by_id(self, rid: str) -> Requirement:
        """The requirement with this id (UnknownName listing the ids if none)."""
        for item in self.items:
            if item.id == rid:
                return item
        raise v.UnknownName(
            f"rid {rid!r} is not among the requirements: {', '.join(i.id for i in self.items)}."
        )

    def of_kind(self, kind: str) -> tuple[Requirement, ...]:
        """The requirements of one kind, in order."""
        v.choice("kind", kind, KINDS)
        return tuple(item for item in self.items if item.kind == kind)
