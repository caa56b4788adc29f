"""Bad-input table for labkit.response's scenario, ground truth and detection (module 13)."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import TMP, Entry


def _records() -> Any:  # noqa: ANN401
    from labkit.response.records import training_records

    return training_records()


KIND = ["ddos", 3]
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
        "labkit.response.scenario.SimClock": Entry(lambda: dict(seed=0), {"seed": ["a", 2.5, None]}),
    }


NOT_INPUT_TAKING = {
    "labkit.response.groundtruth.roles": "reads the sealed plan (no arguments)",
    "labkit.response.groundtruth.scenario_key": "reads the shipped key (no arguments)",
    "labkit.response.groundtruth.Grade": "result record",
    "labkit.response.records.TrainingRecords": "result record built by training_records",
    "labkit.response.scenario.Truth": "record the simulation fills",
    "labkit.response.actors.Query": "record an actor yields",
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
    "labkit.response.groundtruth",
    "labkit.response.records",
    "labkit.response.scenario",
    "labkit.response.actors",
)
_ = TMP
