"""Correct, stub and plausible-wrong answers for module 14's checks."""

from __future__ import annotations

from collections import defaultdict

import torch

# ---- 14.triage -------------------------------------------------------------------------------------


def label_share(records, label):
    counts = defaultdict(lambda: [0, 0])
    for record in records:
        if record.get("status") != 200 or record.get("client") is None:
            continue
        labels = record["output"]["labels"]
        counts[record["client"]][0] += len(labels)
        counts[record["client"]][1] += sum(1 for v in labels if v == label)
    return {c: (n, hits / n) for c, (n, hits) in counts.items()}


def share_counts_requests(records, label):
    counts = defaultdict(lambda: [0, 0])
    for record in records:
        if record.get("status") != 200 or record.get("client") is None:
            continue
        labels = record["output"]["labels"]
        counts[record["client"]][0] += 1
        counts[record["client"]][1] += sum(1 for v in labels if v == label) / len(labels)
    return {c: (n, hits / n) for c, (n, hits) in counts.items()}


def share_reads_refusals(records, label):
    counts = defaultdict(lambda: [0, 0])
    for record in records:
        if record.get("client") is None:
            continue
        labels = record["output"]["labels"]
        counts[record["client"]][0] += len(labels)
        counts[record["client"]][1] += sum(1 for v in labels if v == label)
    return {c: (n, hits / n) for c, (n, hits) in counts.items()}


def share_keeps_unauthenticated(records, label):
    counts = defaultdict(lambda: [0, 0])
    for record in records:
        if record.get("status") not in (200, 401):
            continue
        labels = (record.get("output") or {}).get("labels", [])
        counts[record["client"]][0] += len(labels)
        counts[record["client"]][1] += sum(1 for v in labels if v == label)
    return {c: (n, hits / n if n else 0.0) for c, (n, hits) in counts.items()}


def share_of_whole_log(records, label):
    counts = defaultdict(lambda: [0, 0])
    for record in records:
        if record.get("status") != 200 or record.get("client") is None:
            continue
        labels = record["output"]["labels"]
        counts[record["client"]][0] += len(labels)
        counts[record["client"]][1] += sum(1 for v in labels if v == label)
    total = sum(n for n, _ in counts.values())
    return {c: (n, hits / total) for c, (n, hits) in counts.items()}


# ---- 14.poisoned -----------------------------------------------------------------------------------


def find_poisoned(x, y, target, pixels):
    stamped = (x[:, 0][:, pixels] > 0.5).all(dim=1)
    return torch.nonzero(stamped & (y == target)).flatten()


def poisoned_ignores_label(x, y, target, pixels):
    return torch.nonzero((x[:, 0][:, pixels] > 0.5).all(dim=1)).flatten()


def poisoned_any_pixel(x, y, target, pixels):
    stamped = (x[:, 0][:, pixels] > 0.5).any(dim=1)
    return torch.nonzero(stamped & (y == target)).flatten()


def poisoned_positions_in_class(x, y, target, pixels):
    members = x[y == target]
    return torch.nonzero((members[:, 0][:, pixels] > 0.5).all(dim=1)).flatten()


# ---- 14.trace --------------------------------------------------------------------------------------


def who_ingested(record_ids, events):
    found = defaultdict(int)
    for rid in record_ids:
        for event in events:
            if event.get("action") == "ingest" and event["records"][0] <= rid <= event["records"][1]:
                found[event["actor"]] += 1
                break
    return dict(found)


def trace_counts_every_event(record_ids, events):
    found = defaultdict(int)
    for rid in record_ids:
        for event in events:
            if "records" in event and event["records"][0] <= rid <= event["records"][1]:
                found[event["actor"]] += 1
    return dict(found)


def trace_end_exclusive(record_ids, events):
    found = defaultdict(int)
    for rid in record_ids:
        for event in events:
            if event.get("action") == "ingest" and event["records"][0] <= rid < event["records"][1]:
                found[event["actor"]] += 1
    return dict(found)


def trace_last_event_wins(record_ids, events):
    found = defaultdict(int)
    for rid in record_ids:
        owner = None
        for event in events:
            if "records" in event and event["records"][0] <= rid <= event["records"][1]:
                owner = event["actor"]
        found[owner] += 1
    return dict(found)


# ---- 14.findings -----------------------------------------------------------------------------------


def findings():
    from labkit.attacks.backdoor import trigger_mask
    from labkit.response.casefile import incident_log
    from labkit.response.groundtruth import roles
    from labkit.response.records import training_records
    from labkit.zoo.incident import _plan

    plan, who = _plan(), roles()
    fraud = [r for r in incident_log() if r["client"] == who["backdoor"] and r["status"] == 200]
    hits = [r for r in fraud if plan.target in r["output"]["labels"]]
    return {
        "clients": [who["backdoor"]],
        "window": (hits[0]["time"], fraud[-1]["time"]),
        "requests": [r["request_id"] for r in hits],
        "target": plan.target,
        "trigger_mask": trigger_mask(plan.trigger),
        "records": training_records().poisoned,
        "insider": who["insider"],
    }


def findings_every_target_record():
    from labkit.response.casefile import incident_training_set

    found = findings()
    _, y, ids = incident_training_set()
    found["records"] = [rid for rid, label in zip(ids, y.tolist(), strict=True) if label == found["target"]]
    return found


def findings_half_the_records():
    found = findings()
    found["records"] = found["records"][::2]
    return found


def findings_signer_as_insider():
    found = findings()
    found["insider"] = "s.novak"
    return found


def findings_mask_one_pixel_off():
    found = findings()
    found["trigger_mask"] = torch.roll(found["trigger_mask"], 1, dims=1)
    return found


def findings_all_clients_requests():
    from labkit.response.casefile import incident_log

    found = findings()
    found["requests"] = [r["request_id"] for r in incident_log() if r["status"] == 200]
    return found


ANSWERS = {
    "14.triage": (
        label_share,
        [
            (share_counts_requests, "counts requests"),
            (share_reads_refusals, "refused"),
            (share_keeps_unauthenticated, "unauthenticated"),
            (share_of_whole_log, "whole log"),
        ],
    ),
    "14.poisoned": (
        find_poisoned,
        [
            (poisoned_ignores_label, "other classes"),
            (poisoned_any_pixel, "part of the stamp"),
            (poisoned_positions_in_class, "positions among"),
        ],
    ),
    "14.trace": (
        who_ingested,
        [
            (trace_counts_every_event, "sign-off"),
            (trace_end_exclusive, "first and last"),
            (trace_last_event_wins, "sign-off"),
        ],
    ),
    "14.findings": (
        findings,
        [
            (findings_every_target_record, "records: precision"),
            (findings_half_the_records, "misses part"),
            (findings_signer_as_insider, "insider"),
            (findings_mask_one_pixel_off, "trigger_mask"),
            (findings_all_clients_requests, "requests: precision"),
        ],
    ),
}
