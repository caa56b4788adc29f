"""The incident report: the responder's findings and timeline rendered from a Markdown template.

The template is a `string.Template` (placeholders like $title), so a team can keep its own house
style in a file and pass it in; every placeholder must be filled, and a missing one is an error, not
a silently empty section.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from labkit import validate as v

TEMPLATE = string.Template(
    """# Incident report: $title

| | |
|---|---|
| Status | $status |
| Severity | $severity |
| Prepared | $prepared |
| Responder | $responder |

## Summary

$summary

## Timeline (UTC)

| time | event |
|---|---|
$timeline

## Findings

| finding | value | how it was established |
|---|---|---|
$findings

## Blast radius

$blast_radius

## Remediation

$remediation

## What changes in our SDL

$lessons
"""
)


@dataclass(frozen=True)
class Event:
    """One line of the timeline: when (ISO 8601; UTC if no zone is given) and what happened."""

    time: str
    what: str

    @property
    def moment(self) -> datetime:
        return _moment(self.time)


def _moment(text: str, name: str = "time") -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be an ISO 8601 time such as '2026-11-16T15:06', not {text!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def timeline_rows(events: Sequence[Event]) -> str:
    """The events in time order as Markdown table rows (ties keep their given order)."""
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise TypeError(f"events must be a list of Event, not {events!r:.60}.")
    for n, event in enumerate(events):
        if not isinstance(event, Event):
            raise TypeError(f"events[{n}] must be an Event(time, what), not {event!r:.60}.")
        v.text(f"events[{n}].what", event.what)
        _moment(event.time, f"events[{n}].time")
    ordered = sorted(events, key=lambda e: e.moment)
    return "\n".join(
        f"| {e.moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} | {_cell(e.what)} |" for e in ordered
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def finding_rows(findings: Mapping[str, tuple[str, str]]) -> str:
    """Findings {name: (value, evidence)} as Markdown table rows, in the given order."""
    if not isinstance(findings, Mapping) or not findings:
        raise TypeError(
            f"findings must be a non-empty dict of name -> (value, evidence), not {findings!r:.60}."
        )
    rows = []
    for name, entry in findings.items():
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise ValueError(f"findings[{name!r}] must be a (value, evidence) pair, not {entry!r:.60}.")
        rows.append(f"| {_cell(str(name))} | {_cell(str(entry[0]))} | {_cell(str(entry[1]))} |")
    return "\n".join(rows)


def _bullets(items: Sequence[str], name: str) -> str:
    if isinstance(items, str):
        return items
    if not isinstance(items, Sequence) or not items:
        raise TypeError(f"{name} must be text or a non-empty list of lines, not {items!r:.60}.")
    return "\n".join(f"- {v.text(f'{name}[{n}]', item)}" for n, item in enumerate(items))


def render_report(
    *,
    title: str,
    summary: str,
    events: Sequence[Event],
    findings: Mapping[str, tuple[str, str]],
    blast_radius: str | Sequence[str],
    remediation: str | Sequence[str],
    lessons: str | Sequence[str],
    status: str = "contained",
    severity: str = "high",
    responder: str = "the on-call ML responder",
    prepared: str | None = None,
    template: string.Template | str | Path | None = None,
) -> str:
    """The report as Markdown. `template` may be a string.Template, its text, or a file holding it;
    it must use only the placeholders of `TEMPLATE` and every one is filled."""
    if template is None:
        chosen = TEMPLATE
    elif isinstance(template, string.Template):
        chosen = template
    elif isinstance(template, Path):
        chosen = string.Template(v.path("template", template, exists="file").read_text(encoding="utf-8"))
    else:
        chosen = string.Template(v.text("template", template))
    values = {
        "title": v.text("title", title),
        "summary": v.text("summary", summary),
        "timeline": timeline_rows(events),
        "findings": finding_rows(findings),
        "blast_radius": _bullets(blast_radius, "blast_radius"),
        "remediation": _bullets(remediation, "remediation"),
        "lessons": _bullets(lessons, "lessons"),
        "status": v.text("status", status),
        "severity": v.text("severity", severity),
        "responder": v.text("responder", responder),
        "prepared": prepared or f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
    }
    try:
        return chosen.substitute(values)
    except KeyError as error:
        raise ValueError(
            f"template uses the placeholder ${error.args[0]}, which the report does not fill; "
            f"the placeholders are {', '.join('$' + k for k in values)}."
        ) from None
    except ValueError as error:
        raise ValueError(f"template is not a valid string.Template: {error}.") from None
