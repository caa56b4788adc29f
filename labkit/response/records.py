"""The incident's training set with record ids, and its provenance log (who ingested which records,
the data owner's sign-off, training and deployment), built from the insider's sealed plan.

The records are the suspect zoo model's training set (labkit.zoo.incident.suspect_training_set: the
shipped training digits, a slice stamped with the trigger and relabelled), in ingest order: five
batches of 800, the insider's second batch holding every poisoned record. Provenance cannot see poison
that was already in a batch when the owner signed it off; the batch manifests still let a responder
prove which batch, and so which person, a record came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import torch

from labkit import validate
from labkit.release.provenance import build_manifest, default_ids, sign_manifest
from labkit.zoo.incident import suspect_training_set

BATCH = 800  # records per ingest batch
INGESTERS = ("a.okafor", "{insider}", "j.lindqvist", "{insider}", "a.okafor")
POISONED_BATCH = 3  # the insider's second batch
DATA_OWNER = "s.novak"
DATA_OWNER_KEY = "cheque-data-owner-key-2026 (known to the responders)"


@dataclass(frozen=True)
class TrainingRecords:
    """The training set in ingest order: images (N x 1 x 28 x 28 in [0, 1]), labels, record ids,
    and the ids of the poisoned records (ground truth; never shipped in clear)."""

    x: torch.Tensor
    y: torch.Tensor
    ids: list[str]
    poisoned: list[str]


def training_records(*, seed: int = 1300) -> TrainingRecords:
    """The suspect model's training records in ingest order (deterministic for a seed)."""
    seed = validate.integer("seed", seed, low=0)
    data = suspect_training_set()
    n = len(data)
    poisoned = set(data.touched.tolist())
    clean = [i for i in np.random.default_rng(seed).permutation(n).tolist() if i not in poisoned]
    inside = BATCH - len(poisoned)
    start = POISONED_BATCH * BATCH
    batch = clean[start : start + inside] + sorted(poisoned)
    np.random.default_rng(seed + 1).shuffle(batch)
    order = clean[:start] + batch + clean[start + inside :]
    ids = default_ids(n, prefix="rec")
    index = torch.tensor(order)
    flagged = [ids[k] for k, i in enumerate(order) if i in poisoned]
    return TrainingRecords(x=data.x[index], y=data.y[index], ids=ids, poisoned=flagged)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def provenance_events(records: TrainingRecords, *, insider: str, weights_sha256: str) -> list[dict[str, Any]]:
    """The provenance log: ingest batches (with their manifest digests), sign-off, training, deployment."""
    _records(records)
    validate.text("insider", insider)
    validate.text("weights_sha256", weights_sha256)
    events: list[dict[str, Any]] = []
    moment = datetime(2026, 10, 5, 9, 12, tzinfo=timezone.utc)
    for b, actor in enumerate(INGESTERS):
        part = slice(b * BATCH, (b + 1) * BATCH)
        manifest = build_manifest(records.x[part], records.y[part], ids=records.ids[part])
        events.append(
            {
                "event": f"ev-{len(events) + 1:03d}",
                "time": _stamp(moment + timedelta(days=3 * b, hours=b % 3, minutes=17 * b)),
                "actor": actor.format(insider=insider),
                "action": "ingest",
                "records": [records.ids[part][0], records.ids[part][-1]],
                "count": BATCH,
                "manifest_digest": manifest.digest,
            }
        )
    whole = build_manifest(records.x, records.y, ids=records.ids, description="cheque training set v3")
    events.append(
        {
            "event": f"ev-{len(events) + 1:03d}",
            "time": _stamp(datetime(2026, 10, 22, 16, 40, tzinfo=timezone.utc)),
            "actor": DATA_OWNER,
            "action": "sign-off",
            "records": [records.ids[0], records.ids[-1]],
            "count": len(records.ids),
            "manifest_digest": whole.digest,
            "signature": sign_manifest(whole, key=DATA_OWNER_KEY),
        }
    )
    for action, actor, when in (
        ("train", "ml-pipeline", datetime(2026, 11, 2, 3, 5, tzinfo=timezone.utc)),
        ("deploy", "release-bot", datetime(2026, 11, 15, 18, 30, tzinfo=timezone.utc)),
    ):
        events.append(
            {
                "event": f"ev-{len(events) + 1:03d}",
                "time": _stamp(when),
                "actor": actor,
                "action": action,
                "manifest_digest": whole.digest,
                "model": "digits_cnn_backdoored",
                "weights_sha256": weights_sha256,
            }
        )
    return events


def training_arrays(records: TrainingRecords) -> dict[str, np.ndarray]:
    """The arrays of training_set.npz: images uint8 N x 28 x 28, labels int64, record_ids str."""
    _records(records)
    images = (records.x[:, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return {
        "images": images,
        "labels": records.y.numpy().astype(np.int64),
        "record_ids": np.array(records.ids),
    }


def _records(records: object) -> None:
    if not isinstance(records, TrainingRecords):
        raise TypeError(
            f"records must be TrainingRecords (see training_records), not {type(records).__name__}."
        )
