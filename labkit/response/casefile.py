"""The responder's case file for module 14: the incident's audit log, training set and provenance log
read from datasets/incident/ (each verified against the signed manifest), and the triage queries
over them.

Threat model (responder's view): the service, its audit log and the provenance log are trusted (they
are append-only and the manifest pins them); the clients, the training data and the deployed model are
not.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np
import torch

from labkit import validate as v
from labkit.integrity import verify
from labkit.response.auditdb import scenario_records

INCIDENT = "incident"


def incident_log() -> list[dict[str, Any]]:
    """Every request of the incident's day, as the service logged it (one dict per request): the verified
    scenario log that module 13 loads too (`labkit.response.auditdb.scenario_records`)."""
    return scenario_records()


def incident_training_set() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The deployed model's training records: images N x 1 x 28 x 28 in [0, 1], labels, record ids."""
    with np.load(io.BytesIO(verify(f"{INCIDENT}/training_set.npz").data), allow_pickle=False) as archive:
        x = torch.from_numpy(archive["images"].astype(np.float32) / 255.0)[:, None]
        y = torch.from_numpy(archive["labels"].astype(np.int64))
        ids = [str(i) for i in archive["record_ids"]]
    return x, y, ids


def provenance_log() -> list[dict[str, Any]]:
    """The training data's provenance events: ingests, the owner's sign-off, training, deployment."""
    text = verify(f"{INCIDENT}/provenance.jsonl").data.decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _records(records: object, name: str = "records") -> Sequence[Mapping[str, Any]]:
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
        raise TypeError(f"{name} must be a list of log records (dicts), not {records!r:.60}.")
    bad = next((r for r in records if not isinstance(r, Mapping)), None)
    if bad is not None:
        raise TypeError(f"{name} must hold log records (dicts), not {bad!r:.60}.")
    return records


def answered(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The requests a known client sent and the service answered (status 200)."""
    return [r for r in _records(records) if r.get("status") == 200 and isinstance(r.get("client"), str)]


def label_share(records: Sequence[Mapping[str, Any]], label: int) -> dict[str, tuple[int, float]]:
    """Per client: (answered images, share of them read as `label`): the reference for 14.triage."""
    label = v.class_index("label", label, num_classes=10)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in answered(records):
        labels = record["output"]["labels"]
        counts[record["client"]][0] += len(labels)
        counts[record["client"]][1] += sum(1 for value in labels if value == label)
    return {client: (n, hits / n) for client, (n, hits) in counts.items() if n}


def client_profiles(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per client over its answered requests: requests, images, images per request, first and
    last time, the median distance of its inputs to its own earlier ones, and the median input mean."""
    rows: dict[str, dict[str, Any]] = {}
    for record in answered(records):
        row = rows.setdefault(
            record["client"], {"client": record["client"], "requests": 0, "images": 0, "near": [], "ink": []}
        )
        row["requests"] += 1
        row["images"] += int(record.get("n") or 0)
        row.setdefault("first", record["time"])
        row["last"] = record["time"]
        row["near"] += [d for d in record.get("nearest_l2") or [] if isinstance(d, (int, float))]
        row["ink"].append((record.get("summary") or {}).get("mean", 0.0))
    for row in rows.values():
        row["per_request"] = row["images"] / row["requests"]
        row["median_l2"] = median(row.pop("near")) if row["near"] else float("nan")
        row["median_ink"] = median(row.pop("ink"))
    return sorted(rows.values(), key=lambda r: r["client"])


def who_ingested(record_ids: Iterable[str], events: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Per actor: how many of `record_ids` arrived in an ingest batch of theirs (the reference for
    14.trace). Only "ingest" events say who brought a record in; a sign-off covers every record."""
    if isinstance(record_ids, (str, bytes)) or not isinstance(record_ids, Iterable):
        raise TypeError(f"record_ids must be a list of record ids, not {record_ids!r:.60}.")
    wanted = [v.text(f"record_ids[{n}]", rid) for n, rid in enumerate(record_ids)]
    ingests = [e for e in _records(events, "events") if e.get("action") == "ingest"]
    found: dict[str, int] = defaultdict(int)
    for rid in wanted:
        for event in ingests:
            first, last = event["records"]
            if first <= rid <= last:
                found[event["actor"]] += 1
                break
    return dict(found)
