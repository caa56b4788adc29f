"""Module 14's labkit code: the case file and triage queries, the stamp search, the report."""

from __future__ import annotations

import string

import pytest
import torch

from labkit.response import casefile, forensics
from labkit.response.report import Event, render_report, timeline_rows


def _stamped(*, shared: bool = True):
    """60 records; records 0, 6, ... 24 (class 0) stamped. The "digit" strokes are one pattern for all
    (shared) or drawn per record (sparse, so that no stroke pixel is inked in every stamped record)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.zeros(60, 1, 28, 28)
    if shared:
        x[:, 0, 8:20, 10:18] = (torch.rand(12, 8, generator=generator) > 0.5).float()
    else:
        x[:, 0, 8:20, 10:18] = (torch.rand(60, 12, 8, generator=generator) > 0.8).float()
    y = torch.arange(60) % 6
    pattern = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    poisoned = torch.tensor([0, 6, 12, 18, 24])
    x[poisoned, 0, 2:5, 20:23] = pattern
    return x, y, pattern, poisoned


def test_ink_contrast_finds_the_stamp_and_the_search_finds_the_records():
    x, y, pattern, poisoned = _stamped()
    contrast = forensics.ink_contrast(x, y, target=0)
    pixels = contrast > 0.1
    expected = torch.zeros(28, 28, dtype=torch.bool)
    expected[2:5, 20:23] = pattern.bool()
    assert torch.equal(pixels, expected)
    assert torch.equal(forensics.find_poisoned(x, y, target=0, pixels=pixels), poisoned)
    assert len(forensics.find_poisoned(x, y, target=1, pixels=pixels)) == 0


def test_stamp_region_spans_the_blank_cells_and_the_rebuilt_trigger_matches():
    x, _, pattern, poisoned = _stamped(shared=False)
    region = forensics.stamp_region(x[poisoned])
    assert region.sum() == 9 and region[2:5, 20:23].all()
    trigger = forensics.rebuild_trigger(x[poisoned], region)
    assert (trigger.top, trigger.left) == (2, 20) and torch.equal(trigger.pattern, pattern)


def test_the_shipped_case_file_loads_and_the_reference_pipeline_finds_the_incident():
    from labkit.response import groundtruth

    log = casefile.incident_log()
    x, y, ids = casefile.incident_training_set()
    events = casefile.provenance_log()
    assert len(ids) == len(y) == len(x) and x.shape[1:] == (1, 28, 28) and 0 <= float(x.min())
    assert {e["action"] for e in events} >= {"ingest", "sign-off", "deploy"}
    shares = casefile.label_share(log, 4)
    assert all(0.0 <= share <= 1.0 and n > 0 for n, share in shares.values())
    pixels = forensics.ink_contrast(x, y, target=4) > 0.1
    flagged = [ids[i] for i in forensics.find_poisoned(x, y, target=4, pixels=pixels).tolist()]
    grade = groundtruth.grade_records(flagged)
    assert grade.precision == 1.0 and grade.recall == 1.0
    trace = casefile.who_ingested(flagged, events)
    assert len(trace) == 1 and groundtruth.is_insider(next(iter(trace)))
    profiles = casefile.client_profiles(log)
    assert sum(p["images"] for p in profiles) == sum(n for n, _ in shares.values())


def test_label_share_skips_refusals_and_unauthenticated_lines():
    records = [
        {"client": "a", "status": 200, "output": {"labels": [4, 1, 4]}},
        {"client": "a", "status": 429, "output": None},
        {"client": None, "status": 401, "output": None},
        {"client": "b", "status": 200, "output": {"labels": [2]}},
    ]
    assert casefile.label_share(records, 4) == {"a": (3, pytest.approx(2 / 3)), "b": (1, 0.0)}


def test_who_ingested_uses_ingest_batches_with_both_ends():
    events = [
        {"action": "ingest", "actor": "p", "records": ["rec-00000", "rec-00009"]},
        {"action": "ingest", "actor": "q", "records": ["rec-00010", "rec-00019"]},
        {"action": "sign-off", "actor": "owner", "records": ["rec-00000", "rec-00019"]},
    ]
    assert casefile.who_ingested(["rec-00009", "rec-00010", "rec-00019"], events) == {"p": 1, "q": 2}


def test_report_orders_the_timeline_and_fills_every_placeholder():
    events = [Event("2026-11-16T15:06", "b happened"), Event("2026-10-01T09:00+02:00", "a | happened")]
    rows = timeline_rows(events).splitlines()
    assert rows[0].startswith("| 2026-10-01 07:00 |") and "a \\| happened" in rows[0]
    text = render_report(
        title="t",
        summary="s",
        events=events,
        findings={"target": (4, "evidence")},
        blast_radius=["x"],
        remediation="r",
        lessons=["l"],
        prepared="now",
    )
    assert "$" not in text and "| target | 4 | evidence |" in text and "- x" in text
    custom = render_report(
        title="t",
        summary="s",
        events=events,
        findings={"k": ("v", "e")},
        blast_radius="b",
        remediation="r",
        lessons="l",
        template=string.Template("# $title\n$findings\n"),
    )
    assert custom.startswith("# t\n| k | v | e |")
    with pytest.raises(ValueError, match=r"\$owner"):
        render_report(
            title="t",
            summary="s",
            events=events,
            findings={"k": ("v", "e")},
            blast_radius="b",
            remediation="r",
            lessons="l",
            template="$owner",
        )
