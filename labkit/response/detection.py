"""Detection as code over the audit log: Sigma rules converted with pySigma's SQLite backend and run on
the log loaded into SQLite (labkit.response.auditdb), and the scoring of any detector's alerts against
the scenario's ground truth (precision, recall, detection delay in requests and minutes).

Threat model it serves: clients with valid API keys who extract the model, evade it with
decision-based queries or exploit a planted backdoor, seen only through the service's audit log.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labkit import validate
from labkit.integrity import read_manifest, verify
from labkit.response.groundtruth import ATTACKS, label_clients, label_requests

RULES_DIR = "incident/rules"


@dataclass(frozen=True)
class Alert:
    """One alert: which detector, on which client, when, and the request that raised it."""

    detector: str
    client: str
    time: datetime
    request_id: str | None = None


def shipped_rules() -> dict[str, str]:
    """The course's Sigma rules (datasets/incident/rules/*.yml), verified: file name -> YAML text."""
    names = sorted(p for p in read_manifest() if p.startswith(RULES_DIR + "/") and p.endswith(".yml"))
    return {Path(p).name: verify(p).data.decode("utf-8") for p in names}


def sigma_to_sql(rule: str) -> list[str]:
    """The SQL queries (table audit, time stamps in `time`) pySigma's SQLite backend makes of a Sigma
    rule or rule collection given as YAML text."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection

    validate.text("rule", rule)
    try:
        collection = SigmaCollection.from_yaml(rule)
    except Exception as error:  # noqa: BLE001 - pySigma raises many kinds: report them as one
        raise ValueError(f"rule is not a valid Sigma rule: {error}") from None
    errors = [str(e) for r in collection.rules for e in getattr(r, "errors", [])]
    if errors or not collection.rules:
        raise ValueError(f"rule is not a valid Sigma rule: {'; '.join(errors) or 'no rule in it'}.")
    return list(sqliteBackend(table="audit", timestamp_field="time").convert(collection))


def _check_db(db: object) -> sqlite3.Connection:
    if not isinstance(db, sqlite3.Connection):
        raise TypeError(
            f"db must be an sqlite3 connection (see auditdb.load_audit), not {type(db).__name__}."
        )
    return db


def run_sigma(db: sqlite3.Connection, rule: str, *, name: str = "sigma") -> list[Alert]:
    """Run a Sigma rule over the audit database: one alert per matching request (plain rules) or per
    correlation window (its last event), attributed to the request's client."""
    db = _check_db(db)
    name = validate.text("name", name)
    alerts: list[Alert] = []
    for sql in sigma_to_sql(rule):
        cursor = db.execute(sql)
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        if "group_keys" in columns:
            alerts += _correlation_alerts(db, rows, name)
        else:
            alerts += [
                Alert(name, r["client"], _time(r["time"]), r["request_id"]) for r in rows if r["client"]
            ]
    return sorted(alerts, key=lambda a: (a.time, a.client))


def _correlation_alerts(db: sqlite3.Connection, rows: list[dict[str, Any]], name: str) -> list[Alert]:
    alerts = []
    for row in rows:
        events = [int(e.split(":")[1]) for e in json.loads(row["event_ids"])]
        found = db.execute(
            "SELECT client, time, request_id FROM audit WHERE rowid = ?", (max(events),)
        ).fetchone()
        if found and found[0]:
            alerts.append(Alert(name, found[0], _time(found[1]), found[2]))
    return alerts


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


@dataclass(frozen=True)
class Score:
    """How a detector did: client-level precision and recall, alert counts, and per detected attacker
    the delay from its first attack request to the first alert (in its attack requests and minutes)."""

    detector: str
    kind: str
    precision: float
    recall: float
    alerts: int
    false_alerts: int
    delay_requests: dict[str, int]
    delay_minutes: dict[str, float]

    def row(self) -> dict[str, Any]:
        """A flat row for a table."""
        requests, minutes = self.delay_requests.values(), self.delay_minutes.values()
        return {
            "detector": self.detector,
            "attack": self.kind,
            "precision": round(self.precision, 2),
            "recall": round(self.recall, 2),
            "alerts": self.alerts,
            "false alerts": self.false_alerts,
            "delay (requests)": round(sum(requests) / len(requests), 1) if requests else None,
            "delay (minutes)": round(sum(minutes) / len(minutes), 1) if minutes else None,
        }


def score(alerts: Sequence[Alert], records: Sequence[dict[str, Any]], *, kind: str | None = None) -> Score:
    """Score `alerts` against the ground truth for one attack `kind` (or any attack): a client counts as
    detected when an alert names it; alerts on other clients are false alerts."""
    alerts = _alerts(alerts)
    kind_name = "any" if kind is None else validate.choice("kind", kind, ATTACKS)
    if isinstance(records, (str, bytes)) or not isinstance(records, Iterable):
        raise TypeError(f"records must be the audit records the alerts came from, not {records!r:.60}.")
    flagged = sorted({a.client for a in alerts})
    truth = dict(zip(flagged, label_clients(flagged, kind=kind), strict=True))
    attackers = _attackers(records, kind)
    hits = [c for c in flagged if truth[c]]
    delay_requests, delay_minutes = {}, {}
    for client in hits:
        sent = [(_time(r["time"]), r["request_id"]) for r in records if r.get("client") == client]
        marks = label_requests([rid or "" for _, rid in sent], kind=kind)
        attack = [t for (t, _), mark in zip(sent, marks, strict=True) if mark]
        later = [a.time for a in alerts if a.client == client and attack and a.time >= attack[0]]
        if later:
            first = min(later)
            delay_requests[client] = sum(1 for t in attack if t <= first)
            delay_minutes[client] = round((first - attack[0]).total_seconds() / 60, 1)
    return Score(
        detector=alerts[0].detector if alerts else "",
        kind=kind_name,
        precision=len(hits) / len(flagged) if flagged else 0.0,
        recall=len(hits) / attackers if attackers else 0.0,
        alerts=len(alerts),
        false_alerts=sum(1 for a in alerts if not truth[a.client]),
        delay_requests=delay_requests,
        delay_minutes=delay_minutes,
    )


def _alerts(alerts: Any) -> list[Alert]:  # noqa: ANN401
    if isinstance(alerts, (str, bytes)) or not isinstance(alerts, Iterable):
        raise TypeError(f"alerts must be a list of Alert, not {alerts!r:.60}.")
    alerts = list(alerts)
    bad = next((a for a in alerts if not isinstance(a, Alert)), None)
    if bad is not None:
        raise TypeError(f"alerts must hold Alert records, not {type(bad).__name__}.")
    return alerts


def _attackers(records: Iterable[dict[str, Any]], kind: str | None) -> int:
    clients = sorted({r["client"] for r in records if isinstance(r, dict) and r.get("client")})
    return sum(label_clients(clients, kind=kind))


def alerts_by_client(alerts: Sequence[Alert]) -> dict[str, int]:
    """How many alerts each client raised (alert fatigue at a glance)."""
    counts: dict[str, int] = defaultdict(int)
    for alert in _alerts(alerts):
        counts[alert.client] += 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
