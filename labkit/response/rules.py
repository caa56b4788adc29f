"""The blue team's detection rules for the capstone, written as data and run over the audit log.

Each rule is a dict with a "kind" and its thresholds, counted per client in log order:

- {"kind": "volume", "max_images": 600}: more answered images than an honest client sends;
- {"kind": "near_duplicates", "max_l2": 4.0, "min_count": 40}: many queries that are small
  variations of earlier ones (extraction by augmentation, decision-based evasion);
- {"kind": "off_distribution", "low": 0.05, "high": 0.3, "min_count": 5}: requests whose mean pixel
  lies outside the range cheques have (noise or synthetic queries);
- {"kind": "refusals", "min_count": 5}: a client that keeps hitting the rate limit or its budget.

A rule fires once per client: the alert records when, and after how many of its images.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit import validate as v

RULE_FIELDS: dict[str, dict[str, str]] = {
    "volume": {"max_images": "int"},
    "near_duplicates": {"max_l2": "float", "min_count": "int"},
    "off_distribution": {"low": "float", "high": "float", "min_count": "int"},
    "refusals": {"min_count": "int"},
}


def check_rule(rule: Mapping[str, Any], *, name: str = "rule") -> dict[str, Any]:
    """A validated copy of one rule (ValueError naming the rule and field otherwise)."""
    if not isinstance(rule, Mapping):
        raise TypeError(f"{name} must be a dict with a 'kind', not {rule!r:.60}.")
    kind = v.choice(f"{name}['kind']", rule.get("kind"), RULE_FIELDS)
    fields = RULE_FIELDS[kind]
    extra = sorted(set(rule) - set(fields) - {"kind", "name"})
    if extra:
        raise ValueError(
            f"{name}: a {kind} rule has no field {extra[0]!r}; its fields are {', '.join(fields)}."
        )
    clean: dict[str, Any] = {"kind": kind, "name": str(rule.get("name", kind))}
    for field, type_ in fields.items():
        if field not in rule:
            raise ValueError(f"{name}: a {kind} rule needs {field!r} ({', '.join(fields)}).")
        label = f"{name}[{field!r}]"
        if type_ == "int":
            clean[field] = v.positive_int(label, rule[field])
        else:
            clean[field] = v.nonnegative_float(label, rule[field])
    if kind == "off_distribution" and not clean["low"] < clean["high"]:
        raise ValueError(f"{name}: low ({clean['low']}) must be below high ({clean['high']}).")
    return clean


def check_rules(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validated copies of a list of rules."""
    if isinstance(rules, (str, bytes, Mapping)) or not isinstance(rules, Iterable):
        raise TypeError(f"rules must be a list of rule dicts, not {rules!r:.60}.")
    return [check_rule(rule, name=f"rules[{i}]") for i, rule in enumerate(rules)]


@dataclass(frozen=True)
class Alert:
    """One rule firing on one client."""

    rule: str
    client: str
    request_id: str | None
    time: str
    images: int  # the client's answered images up to and including the request that fired it


def _hit(rule: dict[str, Any], record: dict[str, Any], counts: dict[str, float], images: int) -> bool:
    kind = rule["kind"]
    if kind == "volume":
        return images > rule["max_images"]
    if kind == "refusals":
        counts["refusals"] += record.get("status") in (422, 429)
        return counts["refusals"] >= rule["min_count"]
    if record.get("status") != 200:
        return False
    if kind == "near_duplicates":
        distances = record.get("nearest_l2") or []
        counts["near"] += sum(1 for d in distances if isinstance(d, (int, float)) and d <= rule["max_l2"])
        return counts["near"] >= rule["min_count"]
    mean = (record.get("summary") or {}).get("mean")
    counts["off"] += isinstance(mean, (int, float)) and not rule["low"] <= mean <= rule["high"]
    return counts["off"] >= rule["min_count"]


def run_rules(rules: Iterable[Mapping[str, Any]], records: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """Run the rules over audit records in log order; the first firing of each rule per client."""
    checked = check_rules(rules)
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise TypeError(f"records must be a list of audit records (dicts), not {records!r:.60}.")
    images: dict[str, int] = defaultdict(int)
    counts: dict[tuple[int, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    fired: set[tuple[int, str]] = set()
    alerts: list[Alert] = []
    for record in records:
        if not isinstance(record, Mapping):
            raise TypeError(f"records must hold audit records (dicts), not {record!r:.60}.")
        client = record.get("client")
        if not isinstance(client, str):
            continue  # nobody accountable: not a client's traffic
        if record.get("status") == 200:
            images[client] += int(record.get("n") or 0)
        for i, rule in enumerate(checked):
            if (i, client) in fired:
                continue
            if _hit(rule, dict(record), counts[(i, client)], images[client]):
                fired.add((i, client))
                alerts.append(
                    Alert(
                        rule["name"],
                        client,
                        record.get("request_id"),
                        str(record.get("time")),
                        images[client],
                    )
                )
    return alerts
