"""Hidden tests for module 13 (audit logging, detection as code, PRADA)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

FIELDS = ("time", "request_id", "client", "status", "n", "input_sha256", "labels", "confidence")


def _event(seed: int, n: int) -> dict[str, Any]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 10, generator=generator) * 3
    return {
        "api_key": f"sk-live-{seed:04d}-7f3a9c1e5b2d",
        "client": f"branch-{seed % 90 + 10}",
        "received": datetime(2026, 3, 2, 9, 30, 15, 250000, tzinfo=timezone(timedelta(hours=1))),
        "request_id": f"r{seed}-{n}",
        "status": 200,
        "images": torch.rand(n, 1, 28, 28, generator=generator),
        "probabilities": torch.softmax(logits, dim=1),
    }


@exercise(
    "13.audit_record",
    title="an audit record that can answer a responder's questions",
    hint="A responder asks: who (an accountable name, never a secret), when (one unambiguous clock), what "
    "came in (how many inputs, and a fingerprint to match them later, not the data itself) and what went "
    "out (each answer and how sure the model was). Every value must survive json.dumps.",
)
def _check_audit_record(audit_record: Any) -> str:  # noqa: ANN401
    events = [_event(7, 8), _event(8, 8), _event(9, 1)]
    records = [audit_record(dict(e)) for e in events]
    for event, record in zip(events, records, strict=True):
        if not isinstance(record, dict):
            raise CheckFailed(
                f"return a dict (one JSON object per line of the log), not {type(record).__name__}."
            )
        try:
            text = json.dumps(record, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise CheckFailed(f"the record is not plain JSON ({error}): a log line must be text.") from None
        if event["api_key"] in text or event["api_key"][8:] in text:
            raise CheckFailed(
                "the record contains the API key itself: anyone who can read the log could use it to call "
                "the service. Log who the key belongs to instead."
            )
        missing = [f for f in FIELDS if f not in record]
        if missing:
            raise CheckFailed(
                f"the record lacks the field(s) {', '.join(missing)}: a responder will need them."
            )
        if len(text) > 2000:
            raise CheckFailed(
                f"a record of {len(text):,} characters for {len(event['images'])} images: it copies the "
                "inputs into the log (bulky, and a privacy problem: the log now holds every customer's "
                "cheque)."
            )
        _check_values(event, record)
    if records[0]["input_sha256"] == records[1]["input_sha256"]:
        raise CheckFailed("two different batches got the same input_sha256: it must fingerprint the inputs.")
    if audit_record(dict(events[0]))["input_sha256"] != records[0]["input_sha256"]:
        raise CheckFailed(
            "the same batch got two different input_sha256 values: the fingerprint must be stable."
        )
    size = len(json.dumps(records[0]))
    return f"each record holds {len(records[0])} fields in {size} characters for 8 images."


def _check_values(event: dict[str, Any], record: dict[str, Any]) -> None:
    if record["client"] != event["client"]:
        raise CheckFailed(
            f"client should be the accountable client name {event['client']!r}, got {record['client']!r}."
        )
    try:
        stamp = datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00"))
    except ValueError:
        raise CheckFailed(f"time {record['time']!r} is not an ISO 8601 time stamp.") from None
    if stamp.utcoffset() is None:
        raise CheckFailed("time has no time zone: nobody can line it up with other systems' logs.")
    if stamp.utcoffset() != timedelta(0):
        raise CheckFailed(
            f"time {record['time']} is in local time (offset {stamp.utcoffset()}): write UTC, so logs from "
            "servers in different zones line up."
        )
    if abs((stamp - event["received"]).total_seconds()) > 0.001:
        raise CheckFailed(f"time {record['time']} is not the moment the request was received.")
    if record["n"] != len(event["images"]) or record["status"] != event["status"]:
        raise CheckFailed("n (how many inputs) or status does not match the request.")
    if record["request_id"] != event["request_id"]:
        raise CheckFailed("request_id must be the request's own id, to join this line with other logs.")
    if not (
        isinstance(record["input_sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", record["input_sha256"])
    ):
        raise CheckFailed("input_sha256 should be a SHA-256 hex digest (64 hex characters) of the inputs.")
    labels = event["probabilities"].argmax(dim=1).tolist()
    confidence = event["probabilities"].max(dim=1).values.tolist()
    if list(record["labels"]) != labels:
        raise CheckFailed("labels should be the digit answered for each input, in order.")
    got = record["confidence"]
    if not isinstance(got, list) or len(got) != len(confidence):
        raise CheckFailed(
            "confidence should hold one number per input: how sure the model was of its answer."
        )
    if any(
        not isinstance(g, (int, float)) or abs(g - c) > 1e-3 for g, c in zip(got, confidence, strict=True)
    ):
        raise CheckFailed("confidence should be the probability of the answered label, for each input.")


# ---- 13.sigma_rule: a Sigma rule for decision-based evasion ------------------------------------------


def _hidden_log() -> list[dict[str, Any]]:
    import numpy as np

    rng = np.random.default_rng(1313)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    rows: list[tuple[float, str, int, list[float | None]]] = []
    for b in range(6):  # ordinary branches: a few cheques at a time, re-scans far apart
        for k, at in enumerate(sorted(rng.uniform(0, 8 * 3600, size=40))):
            n = int(rng.integers(1, 5))
            near: list[float | None] = [float(v) for v in rng.uniform(4.0, 9.0, size=n).round(3)]
            rows.append((float(at), f"branch-{b + 1:02d}", n, [None, *near[1:]] if k == 0 else near))
    for k in range(32):  # the health probe: the same four canaries every 15 minutes
        rows.append((k * 900.0 + 7, "probe", 4, [None, 8.9, 9.9, 9.4] if k == 0 else [0.0, 0.0, 0.0, 0.0]))
    at = 3600.0
    for _ in range(180):  # a heavy partner: batches of 16 close variations, ~40 s apart
        rows.append((at, "partner", 16, [float(v) for v in rng.uniform(1.0, 2.4, size=16).round(3)]))
        at += float(rng.uniform(30, 50))
    for burst in (5.0, 6.0, 7.5):  # the attacker: single-image boundary walks, 1-3 s apart
        at = burst * 3600
        for _ in range(40):
            rows.append((at, "kiosk-9", 1, [round(float(rng.uniform(0.2, 1.5)), 3)]))
            at += float(rng.uniform(1.0, 3.0))
    rows.sort(key=lambda r: r[0])
    return [
        {
            "time": (start + timedelta(seconds=t)).isoformat(timespec="milliseconds"),
            "request_id": f"h-{i}",
            "client": client,
            "status": 200,
            "n": n,
            "nearest_l2": near,
            "output": {"labels": [1] * n, "confidence": [0.9] * n},
        }
        for i, (t, client, n, near) in enumerate(rows)
    ]


@exercise(
    "13.sigma_rule",
    title="a Sigma rule for decision-based evasion",
    hint="Look at what sets the attacker's requests apart from every other client's in the log: how many "
    "images each carries, how close each is to the client's earlier queries, and how many arrive in a few "
    "minutes. One such request proves nothing; many together do. Fields are the audit table's columns.",
)
def _check_sigma_rule(burst_rule: Any) -> str:  # noqa: ANN401
    from labkit.response.auditdb import load_audit
    from labkit.response.detection import run_sigma

    rule = burst_rule()
    if not isinstance(rule, str):
        raise CheckFailed(f"return the rule as YAML text (a str), not {type(rule).__name__}.")
    records = _hidden_log()
    try:
        alerts = run_sigma(load_audit(records), rule, name="learner")
    except ValueError as error:
        raise CheckFailed(f"the rule does not convert with pySigma: {error}") from None
    except Exception as error:  # noqa: BLE001 - SQLite errors from a rule naming unknown fields
        raise CheckFailed(
            f"the rule's SQL fails on the audit table ({error}): use its column names."
        ) from None
    flagged = {a.client for a in alerts}
    clients = {r["client"] for r in records}
    if not alerts:
        raise CheckFailed(
            "the rule raises no alert at all on a log with an attack in it: check the field names, the "
            "direction of each comparison and whether its threshold can ever be reached."
        )
    if flagged == clients or len(flagged) >= len(clients) - 1:
        raise CheckFailed(
            f"the rule alerts on {len(flagged)} of {len(clients)} clients: it matches (nearly) everything."
        )
    if "kiosk-9" not in flagged:
        raise CheckFailed(f"the rule misses the attacker and alerts on {sorted(flagged)} instead.")
    if "probe" in flagged:
        raise CheckFailed(
            "the rule alerts on the health probe, which resends the same four canaries every 15 minutes: "
            "one near-duplicate request at a time is not an attack."
        )
    if "partner" in flagged:
        raise CheckFailed(
            "the rule alerts on a heavy partner whose batches of 16 cheques sit close to each other but "
            "arrive about 40 s apart: what does a decision-based attacker send in each request?"
        )
    if len(flagged) > 1:
        raise CheckFailed(f"the rule also alerts on ordinary branches: {sorted(flagged - {'kiosk-9'})}.")
    return f"{len(alerts)} alerts, all on the attacker; none on the probe, the heavy partner or the branches."


# ---- 13.prada: the core of PRADA ------------------------------------------------------------------


def _streams() -> dict[str, list[list[float | None]]]:
    import numpy as np

    rng = np.random.default_rng(2019)
    normal = [[None, *rng.normal(6, 1, 3).round(3).tolist()]] + [
        rng.normal(6, 1, 4).round(3).tolist() for _ in range(60)
    ]
    seeds = [[None, *rng.normal(7, 0.6, 15).round(3).tolist()]] + [
        rng.normal(7, 0.6, 16).round(3).tolist() for _ in range(7)
    ]
    rounds = [rng.gamma(2.0, 0.6, 16).round(3).tolist() for _ in range(40)]
    probe = [[None, 8.941, 9.95, 9.471]] + [[0.0, 0.004, 0.0, 0.006] for _ in range(80)]
    short = [rng.normal(6, 1, 4).round(3).tolist() for _ in range(24)]
    short[-1] = [0.3, 0.2, 0.25, 0.3]  # skewed just as the set reaches 96 values: under 100, no alert
    return {"normal": normal, "synthetic": seeds + rounds, "probe": probe, "short": short}


@exercise(
    "13.prada",
    title="the core of PRADA: Shapiro-Wilk on a client's growing set of distances",
    hint="One flag per request, in order. The set holds every distance the client has produced so far "
    "(resubmissions, closer than REPEAT, and missing values excluded); test it only once it is big enough, "
    "and remember which way W moves when a set stops looking normal.",
)
def _check_prada(learner: Any) -> str:  # noqa: ANN401
    from labkit.response.detectors import prada_flags

    results = {}
    for name, batches in _streams().items():
        for threshold, minimum in ((0.9, 100), (0.95, 60)):
            want = prada_flags(batches, threshold=threshold, min_distances=minimum)
            got = learner([list(b) for b in batches], threshold=threshold, min_distances=minimum)
            got = list(got) if isinstance(got, (list, tuple)) else got
            if not isinstance(got, list) or len(got) != len(batches):
                raise CheckFailed(
                    f"return one flag (True/False) per request: {len(batches)} here, got {got!r:.60}."
                )
            got = [bool(g) for g in got]
            if got != want:
                _diagnose(name, batches, got, want, minimum)
            results[name] = sum(want)
    return (
        f"no alerts on normal traffic, the probe or a short client; the synthetic stream alerts on "
        f"{results['synthetic']} of its {len(_streams()['synthetic'])} requests."
    )


def _diagnose(
    name: str, batches: list[list[float | None]], got: list[bool], want: list[bool], minimum: int
) -> None:
    raw = 0
    for flag, batch in zip(got, batches, strict=True):
        raw += sum(1 for d in batch if d is not None)
        if flag and raw < minimum:
            raise CheckFailed(f"it alerts before the client has produced {minimum} distances.")
    if name == "probe" and any(got):
        raise CheckFailed(
            "it alerts on a health probe that resends the same inputs: resubmissions (distances of 0 or "
            "below REPEAT) explore nothing and must not enter the set."
        )
    if name == "normal" and any(got):
        raise CheckFailed(
            "it alerts on a client whose distances are normally distributed: check the comparison."
        )
    if name == "short" and any(got):
        raise CheckFailed(f"it alerts before the client has produced {minimum} distances.")
    if name == "synthetic" and not any(got):
        raise CheckFailed(
            "it never alerts on a client synthesising queries from earlier ones: does the set of distances "
            "grow from one request to the next?"
        )
    first_got = got.index(True) if True in got else None
    first_want = want.index(True)
    raise CheckFailed(
        f"on a synthetic stream the first alert comes at request {first_got}, expected {first_want}: "
        "check which distances enter the set and when it is tested."
    )
