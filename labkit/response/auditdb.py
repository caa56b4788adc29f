"""The audit log as an SQLite database, so detection rules can be written as queries (and as Sigma).

Two tables, columns named after the log's fields, types left to SQLite (numbers stay numbers, so
`n >= 16` compares numbers, not text):
- audit: one row per request; nested objects flattened with "_" (summary_mean, output_labels ...),
  lists kept as JSON text, plus nearest_l2_min, output_confidence_min and output_confidence_max.
- queries: one row per answered image: time, request_id, client, i (position in the batch),
  nearest_l2, label, confidence.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from labkit import validate
from labkit.integrity import verify

SCENARIO_LOG = "incident/audit.jsonl"
AUDIT_COLUMNS = (
    "time", "run", "request_id", "client", "key_id", "source", "method", "path", "policy", "status",
    "error", "message", "n", "bytes", "input_sha256", "summary_mean", "summary_std", "summary_min",
    "summary_max", "summary_saturated", "nearest_l2", "nearest_l2_min", "output_labels",
    "output_confidence", "output_confidence_min", "output_confidence_max", "remaining", "latency_ms",
)  # fmt: skip
QUERY_COLUMNS = ("time", "request_id", "client", "i", "nearest_l2", "label", "confidence")


def scenario_records() -> list[dict[str, Any]]:
    """The incident scenario's audit log (datasets/incident/audit.jsonl), verified, as records."""
    return [json.loads(line) for line in verify(SCENARIO_LOG).data.decode("utf-8").splitlines() if line]


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """An audit log file as records (labkit.service.audit.read_audit_log's format)."""
    from labkit.service.audit import read_audit_log

    return read_audit_log(validate.path("path", path, exists="file"))


def _present(values: Any) -> list[float]:  # noqa: ANN401
    return [float(v) for v in values or [] if isinstance(v, (int, float))]


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One audit record as a row of the audit table (see the module docstring)."""
    if not isinstance(record, dict):
        raise TypeError(f"record must be an audit record (a dict), not {type(record).__name__}.")
    summary = record.get("summary") or {}
    output = record.get("output") or {}
    distances, confidence = _present(record.get("nearest_l2")), _present(output.get("confidence"))
    row = {name: record.get(name) for name in AUDIT_COLUMNS}
    row.update({f"summary_{k}": summary.get(k) for k in ("mean", "std", "min", "max", "saturated")})
    row["nearest_l2"] = json.dumps(record.get("nearest_l2"))
    row["nearest_l2_min"] = min(distances) if distances else None
    row["output_labels"] = json.dumps(output.get("labels"))
    row["output_confidence"] = json.dumps(output.get("confidence"))
    row["output_confidence_min"] = min(confidence) if confidence else None
    row["output_confidence_max"] = max(confidence) if confidence else None
    return row


def _records(records: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    if isinstance(records, (str, bytes, dict)) or not isinstance(records, Iterable):
        raise TypeError(f"records must be a list of audit records (dicts), not {records!r:.60}.")
    records = list(records)
    bad = next((r for r in records if not isinstance(r, dict)), None)
    if bad is not None:
        raise TypeError(f"records must hold audit records (dicts), not {type(bad).__name__}.")
    return records


def load_audit(records: Iterable[dict[str, Any]] | None = None) -> sqlite3.Connection:
    """An in-memory SQLite database holding `records` (default: the scenario's log) in the tables
    audit and queries, in log order (rowid = line number)."""
    records = scenario_records() if records is None else _records(records)
    db = sqlite3.connect(":memory:", check_same_thread=False)
    quoted = ", ".join(f'"{c}"' for c in AUDIT_COLUMNS)
    db.execute(f"CREATE TABLE audit ({quoted})")
    db.execute(f"CREATE TABLE queries ({', '.join(QUERY_COLUMNS)})")
    rows = [flatten(r) for r in records]
    db.executemany(
        f"INSERT INTO audit VALUES ({', '.join('?' * len(AUDIT_COLUMNS))})",
        [[row[c] for c in AUDIT_COLUMNS] for row in rows],
    )
    db.executemany(
        f"INSERT INTO queries VALUES ({', '.join('?' * len(QUERY_COLUMNS))})", _query_rows(records)
    )
    db.commit()
    return db


def _query_rows(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows = []
    for record in records:
        output = record.get("output") or {}
        labels, confidence = output.get("labels") or [], output.get("confidence") or []
        distances = record.get("nearest_l2") or []
        for i, label in enumerate(labels):
            rows.append(
                (
                    record.get("time"),
                    record.get("request_id"),
                    record.get("client"),
                    i,
                    distances[i] if i < len(distances) else None,
                    label,
                    confidence[i] if i < len(confidence) else None,
                )
            )
    return rows
