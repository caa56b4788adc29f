"""Detection as code over the scenario's audit log: SQLite loading, Sigma rules through pySigma, the
statistical detectors and their scores against the ground truth."""

from __future__ import annotations

import copy

import pytest

from labkit.response import detectors as d
from labkit.response.auditdb import AUDIT_COLUMNS, flatten, load_audit, scenario_records
from labkit.response.detection import Alert, alerts_by_client, run_sigma, score, shipped_rules, sigma_to_sql
from labkit.response.groundtruth import roles
from tests.answers.m13 import BURST_RULE


@pytest.fixture(scope="module")
def records():
    return scenario_records()


@pytest.fixture(scope="module")
def db(records):
    return load_audit(records)


def test_the_database_keeps_field_names_and_numeric_types(db, records):
    columns = [row[1] for row in db.execute("PRAGMA table_info(audit)")]
    assert tuple(columns) == AUDIT_COLUMNS
    assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == len(records)
    # numbers stay numbers: 16 >= 9 numerically (as text '16' < '9')
    big = db.execute("SELECT COUNT(*) FROM audit WHERE n >= 9").fetchone()[0]
    assert big == sum(1 for r in records if (r.get("n") or 0) >= 9) > 0
    images = db.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    assert images == sum(len(r["output"]["labels"]) for r in records if r.get("output"))


def test_flatten_takes_minimum_distance_and_confidence():
    row = flatten(
        {
            "time": "t",
            "nearest_l2": [None, 3.5, 1.25],
            "output": {"labels": [1, 2, 3], "confidence": [0.9, 0.5, 1]},
        }
    )
    assert row["nearest_l2_min"] == 1.25 and row["output_confidence_min"] == 0.5
    assert row["output_confidence_max"] == 1.0 and row["summary_mean"] is None


def test_sigma_rules_convert_and_run(db, records):
    rules = shipped_rules()
    assert set(rules) == {"near_duplicate.yml", "query_volume.yml"}
    plan = roles()
    burst = run_sigma(db, BURST_RULE, name="burst")  # the rule learners write in module 13
    assert {a.client for a in burst} == {plan["evasion"]}
    result = score(burst, records, kind="evasion")
    assert result.precision == result.recall == 1.0 and result.delay_minutes[plan["evasion"]] < 2
    volume = score(run_sigma(db, rules["query_volume.yml"]), records)
    assert volume.recall == pytest.approx(2 / 3) and volume.precision < 1.0, (
        "the nightly batch job alerts too"
    )


def test_a_rule_that_matches_everything_has_poor_precision(db, records):
    everything = """
title: every request
logsource: {product: cheque_reader, service: predict}
detection:
  selection:
    status: 200
  condition: selection
"""
    alerts = run_sigma(db, everything)
    result = score(alerts, records)
    assert result.recall == 1.0 and result.precision < 0.2 and result.false_alerts > 800


def test_invalid_sigma_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="rule"):
        sigma_to_sql("title: x\ndetection: {}")
    with pytest.raises(ValueError, match="rule"):
        sigma_to_sql("")


def test_statistical_detectors_find_their_attack(records):
    plan = roles()
    prada = d.prada(records)
    assert {a.client for a in prada} == {plan["extraction"], plan["evasion"]}
    extraction = score(prada, records, kind="extraction")
    assert extraction.recall == 1.0 and 5 <= extraction.delay_requests[plan["extraction"]] <= 80
    skew = score(d.output_skew(records), records, kind="backdoor")
    assert skew.precision == skew.recall == 1.0
    bursts = score(d.near_duplicate_bursts(records), records, kind="evasion")
    assert bursts.recall == 1.0 and bursts.delay_minutes[plan["evasion"]] < 2


def test_prada_ignores_resubmissions_and_its_threshold_trades_recall_for_alerts(records):
    assert d.distances({"nearest_l2": [None, 0.0, 0.004, 2.0]}) == [2.0]
    assert d.distances({"nearest_l2": [0.0, 2.0]}, skip_repeats=False) == [0.0, 2.0]
    strict, lax = d.prada(records, threshold=0.5), d.prada(records, threshold=0.99)
    assert len(strict) < len(lax)
    assert set(alerts_by_client(strict)) <= set(alerts_by_client(lax))


def test_shapiro_w_separates_normal_from_skewed():
    import numpy as np

    rng = np.random.default_rng(0)
    assert d.shapiro_w(list(rng.normal(6, 1, 300))) > 0.98
    assert d.shapiro_w(list(rng.exponential(1, 300))) < 0.9
    assert d.shapiro_w([1.0, 1.0, 1.0]) == 0.0


def test_scores_count_false_alerts_and_delays(records):
    plan = roles()
    first = next(r for r in records if r.get("client") == plan["backdoor"])
    alerts = [
        Alert("x", plan["backdoor"], d._time(first["time"])),
        Alert("x", "branch-01", d._time(first["time"])),
    ]
    result = score(alerts, records, kind="backdoor")
    assert result.precision == 0.5 and result.recall == 1.0 and result.false_alerts == 1
    assert score([], records).precision == 0.0 and score([], records).recall == 0.0


def test_sweep_scores_each_threshold(records):
    subset = copy.deepcopy(records[:400])
    rows = d.sweep(d.near_duplicate_bursts, subset, parameter="count", values=[4, 400])
    assert [v for v, _ in rows] == [4, 400] and rows[1][1].alerts == 0
