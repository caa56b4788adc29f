"""Bad-input table for labkit.response's scenario, ground truth and detection (module 13)."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import TMP, Entry, closing_figures


def _records() -> Any:  # noqa: ANN401
    from labkit.response.records import training_records

    return training_records()


KIND = ["ddos", 3]
RECORD = {
    "time": "2026-11-16T10:00:00.000+00:00",
    "request_id": "d1116-1",
    "client": "branch-01",
    "status": 200,
    "n": 2,
    "nearest_l2": [None, 3.0],
    "output": {"labels": [1, 2], "confidence": [0.9, 0.8]},
}
RECORDS_BAD = ["x", 3, [3], {"time": 1}]
RULE = "title: t\nlogsource: {product: p}\ndetection:\n  sel:\n    status: 200\n  condition: sel\n"


def _db() -> Any:  # noqa: ANN401
    from labkit.response.auditdb import load_audit

    return load_audit([RECORD])


def _alerts() -> Any:  # noqa: ANN401
    from datetime import datetime, timezone

    from labkit.response.detection import Alert

    return [Alert("x", "branch-01", datetime(2026, 11, 16, tzinfo=timezone.utc))]


IDS = ["branch-01", 3, [3], [""]]


def cases() -> dict[str, Entry]:
    return {
        "labkit.response.groundtruth.digest": Entry(
            lambda: dict(salt="s", kind="client:any", value="x"),
            {"salt": ["", 3], "kind": ["", None], "value": [3, None]},
        ),
        "labkit.response.groundtruth.minute_of": Entry(
            lambda: dict(moment="2026-11-16T10:05"), {"moment": ["noon", 3, None]}
        ),
        "labkit.response.groundtruth.minute_text": Entry(
            lambda: dict(moment="2026-11-16T10:05"), {"moment": ["noon", 3]}
        ),
        "labkit.response.groundtruth.minutes_between": Entry(
            lambda: dict(start="2026-11-16T10:05", end="2026-11-16T10:09"),
            {"start": ["noon", 3], "end": ["later", None]},
        ),
        "labkit.response.groundtruth.grade_clients": Entry(
            lambda: dict(client_ids=["branch-01"], kind=None), {"client_ids": IDS, "kind": KIND}
        ),
        "labkit.response.groundtruth.label_clients": Entry(
            lambda: dict(client_ids=["branch-01"], kind=None), {"client_ids": IDS, "kind": KIND}
        ),
        "labkit.response.groundtruth.grade_requests": Entry(
            lambda: dict(request_ids=["d1116-1"], kind=None), {"request_ids": IDS, "kind": KIND}
        ),
        "labkit.response.groundtruth.label_requests": Entry(
            lambda: dict(request_ids=["d1116-1"], kind=None), {"request_ids": IDS, "kind": KIND}
        ),
        "labkit.response.groundtruth.grade_records": Entry(
            lambda: dict(record_ids=["rec-00001"]), {"record_ids": ["rec-00001", 5, [None]]}
        ),
        "labkit.response.groundtruth.grade_windows": Entry(
            lambda: dict(windows=[("2026-11-16T10:00", "2026-11-16T10:30")], kind=None),
            {
                "windows": [
                    "2026-11-16",
                    [("2026-11-16T10:00",)],
                    [("noon", "2026-11-16T10:30")],
                    [("2026-11-16T10:30", "2026-11-16T10:00")],
                ],
                "kind": KIND,
            },
        ),
        "labkit.response.groundtruth.grade_window": Entry(
            lambda: dict(start="2026-11-16T10:00", end="2026-11-16T10:30", kind=None),
            {"start": ["noon", 3], "end": ["2026-11-16T09:00", None], "kind": KIND},
        ),
        "labkit.response.groundtruth.is_insider": Entry(lambda: dict(actor="a.okafor"), {"actor": ["", 3]}),
        "labkit.response.groundtruth.is_target": Entry(lambda: dict(guess=4), {"guess": [-1, 10, "4", 2.5]}),
        "labkit.response.groundtruth.is_trigger_mask": Entry(
            lambda: dict(mask=torch.zeros(28, 28, dtype=torch.bool)),
            {"mask": [torch.zeros(3, 3), "x", torch.zeros(28)]},
        ),
        "labkit.response.records.training_records": Entry(lambda: dict(seed=0), {"seed": [-1, 2.5, "0"]}),
        "labkit.response.records.provenance_events": Entry(
            lambda: dict(records=_records(), insider="r.x", weights_sha256="ab"),
            {"records": [None, "x"], "insider": ["", 3], "weights_sha256": [3, ""]},
        ),
        "labkit.response.records.training_arrays": Entry(
            lambda: dict(records=_records()), {"records": [None, (torch.zeros(1),)]}
        ),
        "labkit.response.auditdb.flatten": Entry(
            lambda: dict(record=dict(RECORD)), {"record": ["x", None, [1]]}
        ),
        "labkit.response.auditdb.load_audit": Entry(lambda: dict(records=[RECORD]), {"records": RECORDS_BAD}),
        "labkit.response.auditdb.read_records": Entry(
            lambda: dict(path=_log()), {"path": [3, TMP / "no-such.jsonl", None]}
        ),
        "labkit.response.detection.sigma_to_sql": Entry(
            lambda: dict(rule=RULE), {"rule": ["", 3, "title: x", "a: [1"]}
        ),
        "labkit.response.detection.run_sigma": Entry(
            lambda: dict(db=_db(), rule=RULE, name="r"),
            {"db": [None, "db"], "rule": ["", 3], "name": ["", 3]},
        ),
        "labkit.response.detection.score": Entry(
            lambda: dict(alerts=_alerts(), records=[RECORD], kind=None),
            {"alerts": ["x", [3]], "records": ["x", 3], "kind": KIND},
        ),
        "labkit.response.detection.parse_time": Entry(
            lambda: dict(value="2026-11-16T10:00:00+00:00"), {"value": [3, "noon", "2026-11-16T10:00:00"]}
        ),
        "labkit.response.detection.alerts_by_client": Entry(
            lambda: dict(alerts=_alerts()), {"alerts": ["x", [3]]}
        ),
        "labkit.response.detectors.answered": Entry(lambda: dict(records=[RECORD]), {"records": RECORDS_BAD}),
        "labkit.response.detectors.distances": Entry(
            lambda: dict(record=dict(RECORD), skip_repeats=True), {"record": ["x", None]}
        ),
        "labkit.response.detectors.shapiro_w": Entry(
            lambda: dict(values=[1.0, 2.0, 4.0]), {"values": [[1.0, 2.0], "x", [1.0, float("nan"), 2.0], []]}
        ),
        "labkit.response.detectors.prada_statistics": Entry(
            lambda: dict(records=[RECORD], min_distances=3),
            {"records": RECORDS_BAD, "min_distances": [2, 2.5, "3", 6000]},
        ),
        "labkit.response.detectors.prada_flags": Entry(
            lambda: dict(batches=[[None, 1.0, 2.0, 3.0]], threshold=0.9, min_distances=3),
            {"batches": ["x", [3], [["a"]]], "threshold": [1.5, float("nan")], "min_distances": [2, 2.5]},
        ),
        "labkit.response.detectors.prada": Entry(
            lambda: dict(records=[RECORD], threshold=0.9, min_distances=3),
            {
                "records": RECORDS_BAD,
                "threshold": [1.5, -0.1, float("nan"), "0.9"],
                "min_distances": [2, 2.5],
            },
        ),
        "labkit.response.detectors.near_duplicate_bursts": Entry(
            lambda: dict(records=[RECORD], distance=1.0, minutes=5.0, count=8),
            {
                "records": RECORDS_BAD,
                "distance": [0.0, -1.0, float("nan")],
                "minutes": [0, "5"],
                "count": [0, 2.5],
            },
        ),
        "labkit.response.detectors.output_skew": Entry(
            lambda: dict(records=[RECORD], window=20, share=0.5, confidence=0.95),
            {"records": RECORDS_BAD, "window": [1, 2.5], "share": [0.0, 1.5], "confidence": [1.5, -0.1]},
        ),
        "labkit.response.detectors.sweep": Entry(
            lambda: dict(detector=_detector(), records=[RECORD], parameter="count", values=[4], kind=None),
            {
                "detector": [3, None],
                "parameter": ["", 3, "no_such"],
                "values": [[], "x", [float("nan")]],
                "kind": KIND,
            },
        ),
        "labkit.widgets.alerts.threshold_curve": Entry(
            lambda: dict(
                points=[(dict(RECORD), 0.5)], records=[RECORD], thresholds=[0.9], kind=None, name="d"
            ),
            {
                "points": ["x", [3], [("r", 0.5)]],
                "records": ["x", 3],
                "thresholds": [[], [float("nan")], "0.9"],
                "kind": KIND,
                "name": ["", 3],
            },
        ),
        "labkit.widgets.alerts.render_threshold": Entry(
            lambda: dict(curve=_curve(), index=0),
            {"curve": [[], [3], "x"], "index": [5, -1, 2.5]},
            call=closing_figures,
        ),
        "labkit.widgets.alerts.threshold_explorer": Entry(
            lambda: dict(curve=_curve()), {"curve": [[], [3], None]}, call=closing_figures
        ),
        "labkit.response.scenario.SimClock": Entry(lambda: dict(seed=0), {"seed": ["a", 2.5, None]}),
    }


def _log() -> Any:  # noqa: ANN401
    import json

    path = TMP / "m13_audit.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return path


def _detector() -> Any:  # noqa: ANN401
    from labkit.response.detectors import near_duplicate_bursts

    return near_duplicate_bursts


def _curve() -> Any:  # noqa: ANN401
    from labkit.widgets.alerts import threshold_curve

    return threshold_curve([(dict(RECORD), 0.5)], [RECORD], thresholds=[0.9])


NOT_INPUT_TAKING = {
    "labkit.response.groundtruth.roles": "reads the sealed plan (no arguments)",
    "labkit.response.groundtruth.scenario_key": "reads the shipped key (no arguments)",
    "labkit.response.groundtruth.Grade": "result record",
    "labkit.response.records.TrainingRecords": "result record built by training_records",
    "labkit.response.scenario.Truth": "record the simulation fills",
    "labkit.response.actors.Query": "record an actor yields",
    "labkit.response.auditdb.scenario_records": "reads the shipped log (no arguments)",
    "labkit.response.detection.shipped_rules": "reads the shipped rules (no arguments)",
    "labkit.response.detection.Alert": "record detectors return",
    "labkit.response.detection.Score": "result record built by score",
    "labkit.widgets.alerts.ThresholdPoint": "result record built by threshold_curve",
}

_ACTOR = (
    "a generator driven only by labkit.response.scenario with fixed arguments (a bad argument would "
    "surface when iterated, not when called); tested through tests/test_scenario.py"
)
SKIPPED = {
    **{
        f"labkit.response.actors.{name}": _ACTOR
        for name in (
            "branch",
            "mobile",
            "monitor",
            "clearing",
            "partner",
            "buggy",
            "extraction",
            "evasion",
            "fraud",
        )
    },
    "labkit.response.actors.cheques": "internal to the actors (pool and n come from the scenario); "
    "its work is labkit.attacks.extraction.augment_queries, swept there",
    "labkit.response.scenario.simulate_day": "a valid call serves a model and runs a simulated day (about a "
    "minute); log_path and seed are checked first (tests/test_scenario.py)",
    "labkit.response.scenario.build_scenario": "a valid call regenerates datasets/incident (about a minute; "
    "marked slow in tests/test_scenario.py); root is checked first",
}

COVERED = (
    "labkit.response.auditdb",
    "labkit.response.detection",
    "labkit.response.detectors",
    "labkit.response.groundtruth",
    "labkit.response.records",
    "labkit.response.scenario",
    "labkit.response.actors",
)
