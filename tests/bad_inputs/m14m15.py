"""Bad-input table for modules 14 and 15: labkit.response forensics, report, capstone (and its rules,
red side, watermark, scoreboard) and the rule-tuner widget."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import (
    COUNT,
    IMAGES,
    LABELS,
    MODEL,
    PROBABILITY,
    Bad,
    Entry,
    images,
    labels,
    quiet,
    tiny_model,
)

COVERED = (
    "labkit.response.capstone",
    "labkit.response.casefile",
    "labkit.response.forensics",
    "labkit.response.red",
    "labkit.response.report",
    "labkit.response.rules",
    "labkit.response.scoreboard",
    "labkit.response.watermark",
)

NOT_INPUT_TAKING = {
    "labkit.response.casefile.incident_log": "takes no arguments (reads datasets/incident/)",
    "labkit.response.casefile.incident_training_set": "takes no arguments (reads datasets/incident/)",
    "labkit.response.casefile.provenance_log": "takes no arguments (reads datasets/incident/)",
    "labkit.response.capstone.RoundResult": "result record built by run_round",
    "labkit.response.rules.Alert": "result record built by run_rules",
    "labkit.response.watermark.TheftEvidence": "result record built by theft_evidence",
    "labkit.response.report.Event": "record; timeline_rows and render_report check its time and text",
    "labkit.widgets.rule_tuner.RuleView": "result record built by tune_rule",
}

SKIPPED = {
    "labkit.response.capstone.run_round": "a valid call runs a whole round (the service, ~2,000 queries, a "
    "surrogate's training: ~20 s); every argument is checked before the service starts "
    "(tests/test_capstone.py)",
}

RULE = {"kind": "near_duplicates", "max_l2": 4.0, "min_count": 2}


def records() -> list[dict[str, Any]]:
    return [
        {
            "client": "a",
            "status": 200,
            "n": 2,
            "nearest_l2": [1.0, 1.0],
            "summary": {"mean": 0.1},
            "time": "t",
        },
        {"client": "b", "status": 429, "n": 0, "time": "t"},
    ]


def fake_client() -> Any:
    from labkit.checks.m15_capstone import _FakeService

    return _FakeService(budget=None, policy="probabilities")


def stamped() -> tuple[torch.Tensor, torch.Tensor]:
    """Eight images, the first four of class 1 stamped with a 3 x 3 patch at the top-left corner."""
    x = torch.zeros(8, 1, 28, 28)
    x[:, 0, 10:18, 12:15] = 1.0
    x[:4, 0, 1:4, 1:4] = 1.0
    return x, torch.tensor([1, 1, 1, 1, 1, 2, 2, 3])


def region() -> torch.Tensor:
    mask = torch.zeros(28, 28, dtype=torch.bool)
    mask[1:4, 1:4] = True
    return mask


def result() -> Any:
    from labkit.response.capstone import RoundResult

    return RoundResult(
        name="r",
        fidelity=0.9,
        evaded=2,
        red_images=100,
        alerts=[],
        detected_after=None,
        false_alerts=[],
        teller_quality=1.0,
        theft=None,
        innocent=None,
        seconds=1.0,
        blue={},
        red={},
    )


def event() -> Any:
    from labkit.response.report import Event

    return Event("2026-11-16T15:06", "first misread cheque")


MASKS = [
    None,
    Bad("3x3", lambda m: m[:3, :3]),
    Bad("empty", lambda m: m & False),
    Bad("3-dim", lambda m: m[None]),
]
REPORT = dict(
    title="t", summary="s", findings={"target": ("4", "NC")}, blast_radius="b", remediation=["r"], lessons="l"
)


def cases() -> dict[str, Entry]:
    return {
        # ---- forensics -------------------------------------------------------------------------
        "labkit.response.forensics.ink_contrast": Entry(
            lambda: dict(x=stamped()[0], y=stamped()[1], target=1),
            {"x": IMAGES, "y": LABELS, "target": [10, -1, "1", 7], "ink": [1.5, float("nan")]},
        ),
        "labkit.response.forensics.find_poisoned": Entry(
            lambda: dict(x=stamped()[0], y=stamped()[1], target=1, pixels=region()),
            {"x": IMAGES, "y": LABELS, "target": [10, None], "pixels": MASKS, "ink": [-0.5]},
        ),
        "labkit.response.forensics.stamp_region": Entry(
            lambda: dict(x_flagged=stamped()[0][:4]),
            {"x_flagged": [*IMAGES, Bad("no-shared-ink", lambda x: torch.zeros_like(x))], "ink": [2.0]},
        ),
        "labkit.response.forensics.rebuild_trigger": Entry(
            lambda: dict(x_flagged=stamped()[0][:4], region=region()),
            {"x_flagged": IMAGES, "region": MASKS},
        ),
        # ---- casefile ---------------------------------------------------------------------------
        "labkit.response.casefile.answered": Entry(
            lambda: dict(records=records()), {"records": [None, "log", {"a": 1}, [3]]}
        ),
        "labkit.response.casefile.label_share": Entry(
            lambda: dict(records=[{"client": "a", "status": 200, "output": {"labels": [4]}}], label=4),
            {"records": [None, "log", [3]], "label": [10, -1, "4", None]},
        ),
        "labkit.response.casefile.client_profiles": Entry(
            lambda: dict(records=records()), {"records": [None, "log", [3]]}
        ),
        "labkit.response.casefile.who_ingested": Entry(
            lambda: dict(
                record_ids=["rec-00001"],
                events=[{"action": "ingest", "actor": "p", "records": ["rec-00000", "rec-00009"]}],
            ),
            {"record_ids": [None, "rec-00001", [3]], "events": [None, "log", [3]]},
        ),
        # ---- report ----------------------------------------------------------------------------
        "labkit.response.report.timeline_rows": Entry(
            lambda: dict(events=[event()]),
            {"events": [None, "text", [3], Bad("bad-time", lambda e: [type(e[0])("yesterday", "x")])]},
        ),
        "labkit.response.report.finding_rows": Entry(
            lambda: dict(findings={"target": ("4", "NC")}),
            {"findings": [None, {}, {"a": "b"}, {"a": (1, 2, 3)}]},
        ),
        "labkit.response.report.render_report": Entry(
            lambda: dict(events=[event()], **REPORT),
            {
                "title": [3, ""],
                "events": [None, [3]],
                "findings": [{}],
                "remediation": [[], None],
                "template": ["# $title $unknown", 3, "$"],
            },
        ),
        # ---- capstone: blue, red, rules, watermark, scoreboard ---------------------------------
        "labkit.response.capstone.check_blue": Entry(
            lambda: dict(config={"policy": "label", "budget": 500}),
            {
                "config": [
                    None,
                    {"policy": "all"},
                    {"budget": 0},
                    {"rate_limit": 2.5},
                    {"watermark": 0.9},
                    {"rules": [{"kind": "magic"}]},
                    {"colour": "blue"},
                ]
            },
        ),
        "labkit.response.red.check_red": Entry(
            lambda: dict(plan={"queries": 100}),
            {"plan": [None, {"queries": 0}, {"source": "bank"}, {"epsilon": 0.5}, {"speed": 3}]},
        ),
        "labkit.response.red.red_queries": Entry(
            lambda: dict(plan={"queries": 4, "source": "noise"}),
            {"plan": [3, {"queries": -1}], "seed": [1.5, "0"]},
        ),
        "labkit.response.red.steal": Entry(
            lambda: dict(client=fake_client(), queries=images(), batch_size=2),
            {"queries": IMAGES, "batch_size": COUNT},
        ),
        "labkit.response.red.evade": Entry(
            lambda: dict(
                client=fake_client(), surrogate=tiny_model(), x=images(), y=labels(), epsilon=0.1, tries=1
            ),
            {
                "surrogate": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "epsilon": [0.5, -0.1, float("nan")],
                "tries": [-1, 2.5],
            },
        ),
        "labkit.response.rules.check_rule": Entry(
            lambda: dict(rule=RULE),
            {
                "rule": [
                    None,
                    {"kind": "nope"},
                    {"kind": "volume"},
                    {"kind": "volume", "max_images": 0},
                    {"kind": "volume", "max_images": 5, "extra": 1},
                    {"kind": "off_distribution", "low": 0.5, "high": 0.1, "min_count": 1},
                ]
            },
        ),
        "labkit.response.rules.check_rules": Entry(
            lambda: dict(rules=[RULE]), {"rules": [None, RULE, "volume", [{"kind": "x"}]]}
        ),
        "labkit.response.rules.run_rules": Entry(
            lambda: dict(rules=[RULE], records=records()),
            {"rules": [None, [{"kind": "x"}]], "records": [None, "log", {"a": 1}, [3]]},
        ),
        "labkit.response.watermark.WatermarkedModel": Entry(
            lambda: dict(model=tiny_model(), key="a secret of sixteen+", rate=0.1),
            {"model": MODEL, "key": [None, "short", 3], "rate": [0.9, -0.1, float("nan")], "limit": COUNT},
        ),
        "labkit.response.watermark.binomial_tail": Entry(
            lambda: dict(k=3, n=10, p=0.1), {"k": [11, -1, 1.5], "n": [-1, 2.5], "p": PROBABILITY}
        ),
        "labkit.response.watermark.theft_evidence": Entry(
            lambda: dict(suspect=tiny_model(), inputs=images(), labels=labels()),
            {"suspect": MODEL, "inputs": IMAGES[:2], "labels": LABELS, "num_classes": [2, 2.5]},
        ),
        "labkit.response.scoreboard.scoreboard_rows": Entry(
            lambda: dict(results=[result()]), {"results": [None, [], [3], "round"]}
        ),
        "labkit.response.scoreboard.scoreboard_table": Entry(
            lambda: dict(results=[result()]), {"results": [None, [], [3]]}
        ),
        "labkit.response.scoreboard.plot_scoreboard": Entry(
            lambda: dict(results=[result()]), {"results": [None, [], [3]]}, call=quiet
        ),
        # ---- widgets ---------------------------------------------------------------------------
        "labkit.widgets.rule_tuner.tune_rule": Entry(
            lambda: dict(records=records(), rule=RULE, field="max_l2", value=2.0),
            {
                "records": [None, [3]],
                "rule": [None, {"kind": "x"}],
                "field": ["kind", "speed"],
                "value": [-1.0],
            },
        ),
        "labkit.widgets.rule_tuner.rule_tuner": Entry(
            lambda: dict(
                records=records(), rule=RULE, field="max_l2", low=1.0, high=5.0, step=0.5, attacker="a"
            ),
            {"low": [float("nan"), 6.0], "step": [0.0, -1.0], "attacker": [3, ""], "field": ["speed"]},
        ),
    }
