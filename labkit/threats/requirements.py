"""Machine-checkable security requirements as data, saved to and loaded from a strict JSON file.

Module 02 writes them; module 12's release gate evaluates them. Each requirement has an `id` ("SR-3"),
a sentence (`text`) and the catalogue entry it `mitigates` (a key of `labkit.threats.catalogue`, e.g.
"adversarial_examples"), plus the fields of its kind:

Kinds and their own fields:

- `robust_accuracy`: `epsilon` (> 0, at most 1 for "linf", 28 for "l2"), `norm` ("linf" or "l2"),
  `minimum` (in [0, 1]), `samples` (1 to 10000). Passes when the worst-case accuracy over the course's
  attack ensemble (never a single attack) at that epsilon, on the first `samples` test digits, is
  >= minimum.
- `no_pickle_artifacts`: no fields. Passes when the scanner scanned at least one artifact and no shipped
  model artifact is a pickle (loading one can run code).
- `artifact_signed`: no fields. Passes when every shipped model artifact has a signature that verifies.
- `membership_advantage`: `maximum`, `measure`. "tpr_minus_fpr" is the largest TPR - FPR over
  thresholds (maximum in [0, 1]); "auc_minus_half" is ROC AUC - 0.5 (maximum in [0, 0.5]). Passes when
  the measured advantage is <= maximum.
- `predictions_logged`: no fields. Passes when every answered prediction and every refused request
  appears in the audit log.

The JSON file:

    {
     "schema": "labkit.security-requirements",
     "version": 1,
     "system": "cheque reader",
     "requirements": [
      {"id": "SR-1", "kind": "robust_accuracy", "text": "...", "mitigates": "adversarial_examples",
       "epsilon": 0.1, "norm": "linf", "minimum": 0.6, "samples": 200},
      {"id": "SR-2", "kind": "no_pickle_artifacts", "text": "...", "mitigates": "supply_chain"}
     ]
    }

Loading is strict and fails closed (a release gate must never pass on a file it misread): an unreadable
or empty file, invalid JSON, a repeated JSON key, NaN or Infinity, another schema or version, an unknown
kind, a missing or unknown field, a wrong type (true is not a number), an out-of-range value, an unknown
catalogue entry, a duplicate id or an empty list each raise `RequirementsError` naming the file, the
field, the value and what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from labkit import validate as v
from labkit.paths import write_json_atomic
from labkit.threats.requirement_kinds import (
    COMMON,
    ID_PATTERN,
    KINDS,
    MEASURES,
    NORMS,
    SCHEMA,
    VERSION,
    ArtifactSigned,
    MembershipAdvantage,
    NoPickleArtifacts,
    PredictionsLogged,
    Requirement,
    Requirements,
    RequirementsError,
    RobustAccuracy,
    _fail,
)

__all__ = [
    "COMMON",
    "ID_PATTERN",
    "KINDS",
    "MEASURES",
    "NORMS",
    "SCHEMA",
    "VERSION",
    "ArtifactSigned",
    "MembershipAdvantage",
    "NoPickleArtifacts",
    "PredictionsLogged",
    "Requirement",
    "Requirements",
    "RequirementsError",
    "RobustAccuracy",
    "REFERENCE",
    "gate_requirements",
    "learner_requirements_path",
    "load_requirements",
    "parse_requirements",
    "reference_requirements",
    "save_requirements",
]


def _as_requirements(reqs: Any, system: str | None) -> Requirements:
    if isinstance(reqs, Requirements):
        return reqs
    if isinstance(reqs, Sequence) and not isinstance(reqs, (str, bytes)):
        return Requirements(system=system or "", items=tuple(reqs))
    raise TypeError(f"reqs must be a Requirements or a list of requirements, not {type(reqs).__name__}.")


def save_requirements(
    reqs: Requirements | Sequence[Requirement], path: str | Path, *, system: str | None = None
) -> Path:
    """Write requirements to `path` as JSON (atomically: a crash leaves the old file or the new one).

    `system` names the system when `reqs` is a plain list. Returns the path written."""
    target = v.path("path", path)
    if system is not None:
        v.text("system", system)
    try:
        requirements = _as_requirements(reqs, system)
    except RequirementsError as error:
        raise RequirementsError(f"reqs: {error}") from None
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "system": requirements.system,
        "requirements": [item.as_dict() for item in requirements],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(target, document, allow_nan=False)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise RequirementsError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constants(token: str) -> Any:
    raise RequirementsError(f"{token} is not a number JSON allows (use a finite number)")


def parse_requirements(text: str, *, source: str = "requirements") -> Requirements:
    """Requirements from JSON text (the format of this module's docstring); `source` names it in errors."""
    v.text("text", text, empty=True)
    v.text("source", source)
    where = f"{source}: "
    if not text.strip():
        raise RequirementsError(
            f"{where}the file is empty; it must hold a JSON object with schema {SCHEMA!r}."
        )
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RequirementsError as error:
        raise RequirementsError(f"{where}{error}.") from None
    except json.JSONDecodeError as error:
        raise RequirementsError(f"{where}not valid JSON ({error}).") from None
    if not isinstance(document, dict):
        raise _fail(where, "the document", document, "a JSON object")
    _exact_keys(where, "the document", document, ("schema", "version", "system", "requirements"))
    if document["schema"] != SCHEMA:
        raise _fail(where, "schema", document["schema"], repr(SCHEMA))
    if document["version"] != VERSION or isinstance(document["version"], bool):
        raise _fail(where, "version", document["version"], f"{VERSION} (the only version this labkit reads)")
    items = document["requirements"]
    if not isinstance(items, list) or not items:
        raise _fail(where, "requirements", items, "a non-empty list of requirement objects")
    built: list[Requirement] = []
    for index, item in enumerate(items):
        built.append(_build(f"{where}requirements[{index}].", item))
    try:
        return Requirements(system=document["system"], items=tuple(built))
    except RequirementsError as error:
        raise RequirementsError(f"{where}{str(error).replace('items[', 'requirements[')}") from None


def _exact_keys(where: str, what: str, found: Mapping[str, Any], expected: Sequence[str]) -> None:
    missing = [key for key in expected if key not in found]
    if missing:
        raise RequirementsError(
            f"{where}{what} is missing {', '.join(missing)} (it must have {', '.join(expected)})."
        )
    unknown = [key for key in found if key not in expected]
    if unknown:
        raise RequirementsError(
            f"{where}{what} has unknown field(s) {', '.join(unknown)} (allowed: {', '.join(expected)})."
        )


def _build(where: str, item: Any) -> Requirement:
    if not isinstance(item, dict):
        raise _fail(where.rstrip("."), "", item, "a JSON object")
    kind = item.get("kind")
    if kind not in KINDS:
        raise _fail(where, "kind", kind, f"one of {', '.join(KINDS)}")
    cls = KINDS[kind]
    _exact_keys(where.rstrip("."), f" ({kind})", item, (*COMMON, *(f.name for f in fields(cls)[3:])))
    values = {key: value for key, value in item.items() if key != "kind"}
    instance = object.__new__(cls)
    for key, value in values.items():
        object.__setattr__(instance, key, value)
    instance.check(where=where)
    return instance


def load_requirements(path: str | Path) -> Requirements:
    """Read a requirements file strictly (format: this module's docstring); RequirementsError if invalid."""
    source = v.path("path", path)
    try:
        raw = source.read_bytes()
    except OSError as error:
        raise FileNotFoundError(
            f"path {str(source)!r}: cannot read the requirements file ({error.strerror})."
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequirementsError(f"{source}: not UTF-8 text; a requirements file is JSON.") from None
    return parse_requirements(text, source=str(source))


REFERENCE = "requirements/cheque_reader.json"


def reference_requirements(root: str | Path | None = None) -> Requirements:
    """The course's reference requirements for the cheque reader (datasets/requirements/cheque_reader.json),
    read through the signed manifest: module 12 falls back to them when module 02 was skipped."""
    from labkit.integrity import read_verified

    base = None if root is None else v.path("root", root, exists="dir")
    raw = read_verified(REFERENCE, base)
    return parse_requirements(raw.decode("utf-8"), source=f"datasets/{REFERENCE}")


LEARNER_FILE = ("requirements", "cheque_reader.json")


def learner_requirements_path() -> Path:
    """Where module 02 saves the learner's requirements for the cheque reader: in the learner's own
    directory (`labkit.paths.user_dir()`, or $LABKIT_HOME), never in the repository."""
    from labkit.paths import user_dir

    return user_dir().joinpath(*LEARNER_FILE)


def gate_requirements() -> tuple[Requirements, str]:
    """The requirements module 12's release gate evaluates, and where they came from: the learner's file
    from module 02 if it exists (strictly loaded: an invalid file is an error, never a silent fallback),
    else the course's reference requirements."""
    path = learner_requirements_path()
    if path.exists():
        return load_requirements(path), str(path)
    return reference_requirements(), f"datasets/{REFERENCE} (module 02's file {path} does not exist)"
