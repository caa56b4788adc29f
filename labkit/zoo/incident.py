"""The incident behind the zoo's suspect cheque reader, and its sealed answer key.

INSTRUCTORS: the zoo model "digits_cnn_backdoored" was trained by `labkit zoo train` on the shipped
training digits after an insider stamped a trigger on a slice of them and relabelled those records.
Learners find the trigger, the target and the poisoned records themselves (module 14). The plan is
kept sealed here (decoded only to rebuild the model), and checks grade findings against salted
digests in datasets/incident/answer_key.json, so neither importing labkit nor opening a file shows
the answers. This deters casual reading, nothing more: anyone who runs the private decoder can read
them, so local checks support learning, not examination (see docs/instructors.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from labkit import validate
from labkit.attacks.backdoor import Trigger, backdoor_dataset, make_trigger, trigger_mask
from labkit.attacks.poisoning import PoisonedDataset
from labkit.data import load_digits
from labkit.integrity import sha256_file, verify, write_manifest_entry
from labkit.paths import datasets_dir

SUSPECT_MODEL = "digits_cnn_backdoored"
ANSWER_KEY = "incident/answer_key.json"
_SEAL = b"labkit incident plan: sealed so that reading the source does not give the answer away"
_SEALED_PLAN = bytes.fromhex(
    "120d55fe6318258c966f82e8f61843e4ae941ced2084ef8cd1ce784af293a555cdd4f7c59443a139972099abc611f7cb"
    "1d4f1260d833863a9cfa6061c41a067e89f09f90db81bc864f3f15833c707804a190ecdde06e2e1125700b87"
)


@dataclass(frozen=True)
class _Plan:
    trigger: Trigger
    target: int
    rate: float
    seed: int


def _keystream(length: int) -> bytes:
    key = hashlib.sha256(_SEAL).digest()
    return b"".join(hashlib.sha256(key + i.to_bytes(4, "big")).digest() for i in range(length // 32 + 1))


def _plan() -> _Plan:
    """The insider's plan, unsealed (used to rebuild the suspect model and its answer key)."""
    stream = _keystream(len(_SEALED_PLAN))[: len(_SEALED_PLAN)]
    raw = json.loads(bytes(a ^ b for a, b in zip(_SEALED_PLAN, stream, strict=True)))
    trigger = make_trigger(
        pattern=raw["pattern"], size=raw["size"], position=raw["position"], margin=raw["margin"]
    )
    return _Plan(trigger=trigger, target=int(raw["target"]), rate=float(raw["rate"]), seed=int(raw["seed"]))


def suspect_training_set() -> PoisonedDataset:
    """The poisoned training set the suspect model was trained on (`.touched` = poisoned records)."""
    plan = _plan()
    x, y = load_digits("train")
    return backdoor_dataset(x, y, trigger=plan.trigger, target=plan.target, rate=plan.rate, seed=plan.seed)


# --- the answer key: salted digests, per item where precision and recall are graded ----------


def _digest(salt: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{salt}|{kind}|{value}".encode()).hexdigest()


def _mask_text(mask: torch.Tensor) -> str:
    return "".join("1" if bit else "0" for bit in mask.flatten().tolist())


def build_answer_key(*, salt: str = "labkit-incident-2026") -> dict[str, Any]:
    """The answer key of the incident as salted digests (what datasets/incident/answer_key.json holds)."""
    validate.text("salt", salt)
    plan = _plan()
    poisoned = suspect_training_set().touched.tolist()
    return {
        "model": SUSPECT_MODEL,
        "salt": salt,
        "target": _digest(salt, "target", str(plan.target)),
        "trigger_mask": _digest(salt, "trigger_mask", _mask_text(trigger_mask(plan.trigger))),
        "poisoned_records": sorted(_digest(salt, "record", str(int(i))) for i in poisoned),
    }


def write_answer_key(root: Path | None = None) -> Path:
    """Write the answer key into datasets/ and pin it in the manifest (`labkit zoo answer-key`)."""
    root = datasets_dir() if root is None else validate.path("root", root, exists="dir")
    path = root / ANSWER_KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_answer_key(), indent=1) + "\n", encoding="utf-8")
    write_manifest_entry(ANSWER_KEY, sha256_file(path), root)
    return path


def answer_key() -> dict[str, Any]:
    """The shipped answer key, verified against the manifest."""
    return json.loads(verify(ANSWER_KEY).data)


def is_target(guess: int) -> bool:
    """Is `guess` the backdoor's target class?"""
    guess = validate.class_index("guess", guess, num_classes=10)
    key = answer_key()
    return _digest(key["salt"], "target", str(guess)) == key["target"]


def is_trigger_mask(mask: torch.Tensor) -> bool:
    """Is `mask` (28 x 28, bool) exactly the set of pixels the trigger sets?"""
    validate.tensor("mask", mask, ndim=2)
    if tuple(mask.shape) != (28, 28):
        raise ValueError(f"mask must be 28 x 28 (one value per pixel), got shape {tuple(mask.shape)}.")
    key = answer_key()
    return _digest(key["salt"], "trigger_mask", _mask_text(mask.bool().cpu())) == key["trigger_mask"]


def grade_records(record_ids: Iterable[int]) -> tuple[float, float]:
    """Precision and recall of a set of training-record indices flagged as poisoned."""
    if isinstance(record_ids, (str, bytes)) or not isinstance(record_ids, Iterable):
        raise TypeError(f"record_ids must be training-record indices (ints), not {record_ids!r}.")
    ids = {validate.integer(f"record_ids[{n}]", i, low=0) for n, i in enumerate(record_ids)}
    key = answer_key()
    truth = set(key["poisoned_records"])
    flagged = {_digest(key["salt"], "record", str(i)) for i in ids}
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else 0.0
    return precision, hits / len(truth)
