"""The incident scenario's ground truth as salted digests, and the public grading API over it.

INSTRUCTORS: who attacked, when, with which requests, which training records were poisoned and by whom
is decided by a plan kept sealed in this file (decoded only to generate the scenario) and shipped only
as per-item salted SHA-256 digests in datasets/incident/scenario_key.json. Checks score a learner's
findings item by item (precision and recall, hits as counts) without the answers being readable. This
deters casual reading only: anyone who runs the private decoder, or tries every client id, finds them.

Digest of an item: sha256(f"{salt}|{kind}|{value}"), with kinds
  client:<attack> / client:any      attacker client ids (attack = extraction, evasion, backdoor)
  request:<attack> / request:any    request ids sent by the attacks (backdoor: those carrying the trigger)
  minute:<attack> / minute:any      UTC minutes "YYYY-MM-DDTHH:MM" inside an attack campaign
  record                            poisoned training-record ids ("rec-01234")
  actor                             the insider's user name in the provenance log
  target, trigger_mask              as in labkit.zoo.incident (same model, same backdoor)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import torch

from labkit import validate
from labkit.integrity import verify

ATTACKS = ("extraction", "evasion", "backdoor")
KEY_FILE = "incident/scenario_key.json"
_SEAL = b"labkit incident scenario: sealed so that reading the source does not give the answer away"
_SEALED_ROLES = (
    "40587b41086fd084abbe3099fc9ab732912c8bb0c2fc0ef3958c477faf85481833fc53bc8aeeb20f1335867aa0c1f570"
    "0ac8a7f9a9ab0829ac19de3f1ee2b2cb06a220a601595b35bc2b4c9b592e4f8248076ea8b11a4f75c51a8b4c04cc967f"
    "3a4f4821c60bc302a15610"
)


def _keystream(length: int) -> bytes:
    key = hashlib.sha256(_SEAL).digest()
    return b"".join(hashlib.sha256(key + i.to_bytes(4, "big")).digest() for i in range(length // 32 + 1))


def _xor(data: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(len(data)), strict=False))


def _seal(roles: dict[str, str]) -> str:
    return _xor(json.dumps(roles, sort_keys=True).encode()).hex()


def roles() -> dict[str, str]:
    """The sealed plan: which client runs which attack and who the insider is (generation only)."""
    return dict(json.loads(_xor(bytes.fromhex(_SEALED_ROLES))))


def digest(salt: str, kind: str, value: str) -> str:
    """The salted digest of one ground-truth item."""
    validate.text("salt", salt)
    validate.text("kind", kind)
    validate.text("value", value, empty=True)
    return hashlib.sha256(f"{salt}|{kind}|{value}".encode()).hexdigest()


def minute_of(moment: datetime | str) -> datetime:
    """`moment` (an aware datetime or an ISO 8601 string) as a UTC datetime cut to the minute."""
    return _minute("moment", moment)


def _minute(name: str, moment: Any) -> datetime:  # noqa: ANN401
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            raise ValueError(
                f"{name} must be an ISO 8601 time such as '2026-11-16T10:05', not {moment!r}."
            ) from None
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime or an ISO 8601 string, not {type(moment).__name__}.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(second=0, microsecond=0)


def minute_text(moment: datetime | str) -> str:
    """`moment` as "YYYY-MM-DDTHH:MM" (UTC), the form minutes are digested in."""
    return minute_of(moment).strftime("%Y-%m-%dT%H:%M")


def minutes_between(start: datetime | str, end: datetime | str) -> list[str]:
    """Every minute from start's to end's, both included (empty if end is before start)."""
    first, last = _minute("start", start), _minute("end", end)
    count = int((last - first).total_seconds() // 60) + 1
    return [(first + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M") for i in range(max(count, 0))]


@dataclass(frozen=True)
class Grade:
    """Precision and recall of a set of findings against the ground truth (hits as counts only)."""

    precision: float
    recall: float
    hits: int
    flagged: int
    truth: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.2f}, recall {self.recall:.2f} "
            f"({self.hits} of {self.flagged} flagged are right; {self.truth} to find)"
        )


def scenario_key() -> dict[str, Any]:
    """The shipped key of salted digests, verified against the signed manifest."""
    return dict(json.loads(verify(KEY_FILE).data))


def _kind(kind: str | None) -> str:
    return "any" if kind is None else validate.choice("kind", kind, ATTACKS)


def _items(name: str, values: Any, convert: Any) -> set[str]:  # noqa: ANN401
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list or set, not {values!r:.60}.")
    return {convert(f"{name}[{n}]", value) for n, value in enumerate(values)}


def _text(name: str, value: Any) -> str:  # noqa: ANN401
    return validate.text(name, value)


def _grade(kind: str, values: set[str]) -> Grade:
    key = scenario_key()
    truth = set(key["digests"][kind])
    flagged = {digest(key["salt"], kind, value) for value in values}
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else 0.0
    return Grade(precision, hits / len(truth) if truth else 0.0, hits, len(flagged), len(truth))


def grade_clients(client_ids: Iterable[str], *, kind: str | None = None) -> Grade:
    """Client ids flagged as attackers (of one attack `kind`, or of any)."""
    return _grade(f"client:{_kind(kind)}", _items("client_ids", client_ids, _text))


def grade_requests(request_ids: Iterable[str], *, kind: str | None = None) -> Grade:
    """Request ids flagged as sent by an attack (for "backdoor": those carrying the trigger)."""
    return _grade(f"request:{_kind(kind)}", _items("request_ids", request_ids, _text))


def grade_records(record_ids: Iterable[str]) -> Grade:
    """Training-record ids ("rec-01234") flagged as poisoned."""
    return _grade("record", _items("record_ids", record_ids, _text))


def grade_windows(windows: Iterable[tuple[Any, Any]], *, kind: str | None = None) -> Grade:
    """Time windows (start, end), both minutes included, flagged as attack time, minute by minute."""
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Iterable):
        raise TypeError(f"windows must be a list of (start, end) pairs, not {windows!r:.60}.")
    minutes: set[str] = set()
    for n, window in enumerate(windows):
        if not isinstance(window, (tuple, list)) or len(window) != 2:
            raise ValueError(f"windows[{n}] must be a (start, end) pair, not {window!r:.60}.")
        if _minute(f"windows[{n}] end", window[1]) < _minute(f"windows[{n}] start", window[0]):
            raise ValueError(f"windows[{n}] ends before it starts: {window!r:.80}.")
        minutes.update(minutes_between(*window))
    return _grade(f"minute:{_kind(kind)}", minutes)


def grade_window(start: datetime | str, end: datetime | str, *, kind: str | None = None) -> Grade:
    """One time window (both minutes included) flagged as attack time."""
    first, last = _minute("start", start), _minute("end", end)
    if last < first:
        raise ValueError(f"end {end!r} is before start {start!r}: the window ends before it starts.")
    return grade_windows([(first, last)], kind=kind)


def label_requests(request_ids: Iterable[str], *, kind: str | None = None) -> list[bool]:
    """For each request id, in order: was it sent by an attack? (What a detector's score needs.)"""
    ids = [_text(f"request_ids[{n}]", r) for n, r in enumerate(_ordered("request_ids", request_ids))]
    key, kind_name = scenario_key(), f"request:{_kind(kind)}"
    truth = set(key["digests"][kind_name])
    return [digest(key["salt"], kind_name, r) in truth for r in ids]


def label_clients(client_ids: Iterable[str], *, kind: str | None = None) -> list[bool]:
    """For each client id, in order: is it an attacker?"""
    ids = [_text(f"client_ids[{n}]", c) for n, c in enumerate(_ordered("client_ids", client_ids))]
    key, kind_name = scenario_key(), f"client:{_kind(kind)}"
    truth = set(key["digests"][kind_name])
    return [digest(key["salt"], kind_name, c) in truth for c in ids]


def _ordered(name: str, values: Any) -> list[Any]:  # noqa: ANN401
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of ids, not {values!r:.60}.")
    return list(values)


def is_insider(actor: str) -> bool:
    """Is `actor` the user who poisoned the training data?"""
    key = scenario_key()
    return digest(key["salt"], "actor", _text("actor", actor)) in key["digests"]["actor"]


def is_target(guess: int) -> bool:
    """Is `guess` the backdoor's target class?"""
    guess = validate.class_index("guess", guess, num_classes=10)
    key = scenario_key()
    return digest(key["salt"], "target", str(guess)) in key["digests"]["target"]


def is_trigger_mask(mask: torch.Tensor) -> bool:
    """Is `mask` (28 x 28) exactly the set of pixels the trigger sets?"""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a 28 x 28 tensor, not {type(mask).__name__}.")
    validate.tensor("mask", mask, ndim=2)
    if tuple(mask.shape) != (28, 28):
        raise ValueError(f"mask must be 28 x 28 (one value per pixel), got shape {tuple(mask.shape)}.")
    text = "".join("1" if bit else "0" for bit in mask.bool().flatten().tolist())
    key = scenario_key()
    return digest(key["salt"], "trigger_mask", text) in key["digests"]["trigger_mask"]
