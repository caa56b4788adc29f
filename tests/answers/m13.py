"""Correct, stub and plausible-wrong answers for module 13's checks."""

from __future__ import annotations

import hashlib
from datetime import timezone

from scipy.stats import shapiro


def audit_record(event):
    probabilities = event["probabilities"]
    return {
        "time": event["received"].astimezone(timezone.utc).isoformat(timespec="milliseconds"),
        "request_id": event["request_id"],
        "client": event["client"],
        "status": event["status"],
        "n": len(event["images"]),
        "input_sha256": hashlib.sha256(event["images"].numpy().tobytes()).hexdigest(),
        "labels": probabilities.argmax(dim=1).tolist(),
        "confidence": [round(v, 4) for v in probabilities.max(dim=1).values.tolist()],
    }


def audit_record_with_key(event):
    return {**audit_record(event), "client": event["api_key"]}


def audit_record_local_time(event):
    return {**audit_record(event), "time": event["received"].isoformat()}


def audit_record_with_pixels(event):
    return {**audit_record(event), "inputs": event["images"].flatten(1).tolist()}


def audit_record_thin(event):
    return {"time": audit_record(event)["time"], "status": event["status"], "path": "/predict"}


def audit_record_labels_only(event):
    return {**audit_record(event), "confidence": None}


BURST_RULE = """
title: Burst of near-duplicate single-image queries
status: experimental
logsource:
  product: cheque_reader
  service: predict
correlation:
  type: event_count
  rules:
    - near_duplicate_single
  group-by:
    - client
  timespan: 5m
  condition:
    gte: 8
---
title: Answered single-image near-duplicate query
name: near_duplicate_single
status: experimental
logsource:
  product: cheque_reader
  service: predict
detection:
  selection:
    status: 200
    n: 1
    nearest_l2_min|lt: 2.5
  condition: selection
"""

PLAIN = """
title: {title}
logsource:
  product: cheque_reader
  service: predict
detection:
  selection:
{selection}
  condition: selection
"""


def burst_rule():
    return BURST_RULE


def rule_everything():
    return PLAIN.format(title="answered", selection="    status: 200")


def rule_wrong_direction():
    return PLAIN.format(title="far", selection="    status: 200\n    nearest_l2_min|gt: 2.5")


def rule_no_correlation():
    return PLAIN.format(title="near", selection="    status: 200\n    nearest_l2_min|lt: 2.5")


def rule_unreachable():
    return BURST_RULE.replace("gte: 8", "gte: 1000")


def rule_not_yaml():
    return "title: [unclosed"


def prada_flags(batches, *, threshold=0.9, min_distances=100):
    pool, flags = [], []
    for batch in batches:
        pool += [d for d in batch if d is not None and d > 0.01]
        del pool[:-5000]
        flags.append(len(pool) >= min_distances and shapiro(pool).statistic < threshold)
    return flags


def prada_keeps_repeats(batches, *, threshold=0.9, min_distances=100):
    pool, flags = [], []
    for batch in batches:
        pool += [d for d in batch if d is not None]
        flags.append(len(pool) >= min_distances and shapiro(pool).statistic < threshold)
    return flags


def prada_inverted(batches, *, threshold=0.9, min_distances=100):
    pool, flags = [], []
    for batch in batches:
        pool += [d for d in batch if d is not None and d > 0.01]
        flags.append(len(pool) >= min_distances and shapiro(pool).statistic > threshold)
    return flags


def prada_no_minimum(batches, *, threshold=0.9, min_distances=100):
    pool, flags = [], []
    for batch in batches:
        pool += [d for d in batch if d is not None and d > 0.01]
        flags.append(len(pool) >= 3 and shapiro(pool).statistic < threshold)
    return flags


def prada_per_batch(batches, *, threshold=0.9, min_distances=100):
    flags = []
    for batch in batches:
        pool = [d for d in batch if d is not None and d > 0.01]
        flags.append(len(pool) >= min_distances and shapiro(pool).statistic < threshold)
    return flags


ANSWERS = {
    "13.audit_record": (
        audit_record,
        [
            (audit_record_with_key, "API key"),
            (audit_record_local_time, "local time"),
            (audit_record_with_pixels, "copies the inputs"),
            (audit_record_thin, "lacks the field"),
            (audit_record_labels_only, "one number per input"),
        ],
    ),
    "13.sigma_rule": (
        burst_rule,
        [
            (rule_everything, "matches (nearly) everything"),
            (rule_wrong_direction, "misses the attacker"),
            (rule_no_correlation, "health probe"),
            (rule_unreachable, "no alert at all"),
            (rule_not_yaml, "does not convert"),
        ],
    ),
    "13.prada": (
        prada_flags,
        [
            (prada_keeps_repeats, "resubmissions"),
            (prada_inverted, "normally distributed"),
            (prada_no_minimum, "before the client"),
            (prada_per_batch, "never alerts"),
        ],
    ),
}
