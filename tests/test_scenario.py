"""The incident scenario: the shipped files are what `labkit response build-scenario` writes, the key
holds only salted digests, and the grading API scores findings per item."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pytest
import torch

from labkit.attacks.backdoor import trigger_mask
from labkit.integrity import read_manifest, sha256_file
from labkit.paths import datasets_dir
from labkit.release.provenance import build_manifest, verify_manifest
from labkit.response import groundtruth as gt
from labkit.response.records import DATA_OWNER_KEY, training_records
from labkit.response.scenario import FILES, SimClock, build_scenario
from labkit.service.audit import read_audit_log
from labkit.zoo.incident import _plan

INCIDENT = datasets_dir() / "incident"


@pytest.mark.slow
def test_build_scenario_reproduces_the_shipped_files(tmp_path):
    root = tmp_path / "datasets"
    shutil.copytree(datasets_dir(), root)
    for name in FILES:
        (root / "incident" / name).unlink()
    description = build_scenario(root)
    assert description["seconds"] < 150, "generation must stay under about two minutes"
    shipped = read_manifest(datasets_dir())
    for name in FILES:
        assert sha256_file(root / "incident" / name) == shipped[f"incident/{name}"], name


def test_the_key_holds_digests_only():
    text = (INCIDENT / "scenario_key.json").read_text()
    plan = gt.roles()
    for secret in (*plan.values(), "rec-02400", "d1116-"):
        assert secret not in text
    key = gt.scenario_key()
    assert all(len(d) == 64 for values in key["digests"].values() for d in values)


def test_the_log_is_the_real_services_log_over_one_day():
    records = read_audit_log(INCIDENT / "audit.jsonl")
    description = json.loads((INCIDENT / "scenario.json").read_text())
    assert len(records) == description["requests"] > 1000
    times = [datetime.fromisoformat(r["time"]) for r in records]
    assert times == sorted(times), "requests are served in simulated time order"
    assert times[0].date() == times[-1].date() == datetime(2026, 11, 16).date()
    assert {r["request_id"].split("-")[0] for r in records if r["request_id"]} == {"d1116"}
    statuses = Counter(r["status"] for r in records)
    assert statuses[200] > 1300 and statuses[401] and statuses[422]
    ok = [r for r in records if r["status"] == 200]
    assert all(len(r["nearest_l2"]) == r["n"] == len(r["output"]["labels"]) for r in ok)


def test_grading_scores_findings_item_by_item():
    plan = gt.roles()
    attackers = [plan[k] for k in gt.ATTACKS]
    assert gt.grade_clients(attackers).precision == gt.grade_clients(attackers).recall == 1.0
    grade = gt.grade_clients([plan["extraction"], "branch-01", "qa-monitor"])
    assert (grade.hits, grade.flagged, grade.truth) == (1, 3, 3)
    assert grade.precision == pytest.approx(1 / 3) and grade.recall == pytest.approx(1 / 3)
    assert gt.grade_clients([plan["evasion"]], kind="extraction").hits == 0
    assert gt.grade_clients([]).precision == 0.0
    assert gt.is_insider(plan["insider"]) and not gt.is_insider("a.okafor")
    assert gt.is_target(_plan().target) and not gt.is_target((_plan().target + 1) % 10)
    mask = trigger_mask(_plan().trigger)
    assert gt.is_trigger_mask(mask) and not gt.is_trigger_mask(torch.roll(mask, 1, 0))


def test_windows_are_graded_minute_by_minute():
    whole_day = gt.grade_window("2026-11-16T00:00", "2026-11-16T23:59")
    assert whole_day.recall == 1.0 and 0.1 < whole_day.precision < 0.5
    nothing = gt.grade_window("2026-11-16T03:00", "2026-11-16T03:30")
    assert nothing.hits == 0 and nothing.flagged == 31
    moment = datetime(2026, 11, 16, 3, 0, tzinfo=timezone.utc)
    assert gt.grade_windows([(moment, moment)]).flagged == 1
    with pytest.raises(ValueError, match="ends before it starts"):
        gt.grade_window("2026-11-16T04:00", "2026-11-16T03:00")


def test_records_and_provenance_trace_the_poison_to_one_batch():
    records = training_records()
    with np.load(INCIDENT / "training_set.npz") as shipped:
        assert shipped["record_ids"].tolist() == records.ids
        assert (torch.from_numpy(shipped["labels"]) == records.y).all()
    grade = gt.grade_records(records.poisoned)
    assert grade.precision == grade.recall == 1.0 and grade.truth == 160
    events = [json.loads(line) for line in (INCIDENT / "provenance.jsonl").read_text().splitlines()]
    ingests = [e for e in events if e["action"] == "ingest"]
    insider = gt.roles()["insider"]
    holding = [e for e in ingests if e["records"][0] <= records.poisoned[0] <= e["records"][1]]
    assert [e["actor"] for e in holding] == [insider]
    assert all(holding[0]["records"][0] <= rid <= holding[0]["records"][1] for rid in records.poisoned)
    sign_off = next(e for e in events if e["action"] == "sign-off")
    whole = build_manifest(records.x, records.y, ids=records.ids)
    assert whole.digest == sign_off["manifest_digest"]
    assert verify_manifest(whole, sign_off["signature"], key=DATA_OWNER_KEY)


def test_the_simulated_clock_is_deterministic():
    a, b = SimClock(seed=3), SimClock(seed=3)
    a.set(3600.5)
    b.set(3600.5)
    assert a() == b() == datetime(2026, 11, 16, 1, 0, 0, 500000, tzinfo=timezone.utc)
    assert [a.timer() for _ in range(3)] == [b.timer() for _ in range(3)]


@pytest.mark.parametrize(
    ("argument", "value"), [("clock", "now"), ("timer", 3), ("run_id", "a-b"), ("run_id", ""), ("run_id", 7)]
)
def test_serve_checks_its_injected_clock_timer_and_run_id(argument, value, tmp_path):
    from labkit.service.lifecycle import serve

    with pytest.raises(ValueError, match=argument), serve(log_path=tmp_path / "a.jsonl", **{argument: value}):
        pass


def test_serve_stamps_records_with_the_injected_clock(tmp_path):
    from labkit.service.lifecycle import serve

    clock = SimClock(seed=1)
    clock.set(45296.25)
    with serve(log_path=tmp_path / "a.jsonl", fsync=False, clock=clock, timer=clock.timer, run_id="t1") as s:
        s.client().predict(torch.zeros(1, 1, 28, 28))
        (record,) = s.audit_log()
    assert record["time"] == "2026-11-16T12:34:56.250+00:00" and record["request_id"] == "t1-1"
    assert 2 <= record["latency_ms"] <= 9


def test_the_day_has_the_cast_the_notebooks_describe():
    description = json.loads((INCIDENT / "scenario.json").read_text())
    assert len(description["clients"]) == 22  # module 13's header: 22 clients, three of them attackers
    assert gt.grade_clients(description["clients"]).truth == 3
