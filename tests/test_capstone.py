"""Module 15's labkit code: detection rules as data, the API watermark and its theft test, the red
side's plan and loops, the blue configuration, a whole round on the real service, the scoreboard."""

from __future__ import annotations

import math

import pytest
import torch

from labkit.checks.m15_capstone import _FakeService
from labkit.response import capstone, red, rules, scoreboard, watermark
from labkit.widgets import tune_rule

pytestmark = pytest.mark.usefixtures("one_thread")


def _record(client, *, n=4, status=200, near=None, mean=0.12, rid="r"):
    return {
        "client": client,
        "request_id": rid,
        "time": "2026-12-01T10:00:00",
        "status": status,
        "n": n,
        "nearest_l2": near if near is not None else [8.0] * n,
        "summary": {"mean": mean},
    }


def test_volume_rule_fires_once_per_client_when_the_count_is_passed():
    log = [_record("a", n=4, rid=f"a{i}") for i in range(5)] + [_record(None, n=50)]
    alerts = rules.run_rules([{"kind": "volume", "max_images": 12}], log)
    assert [(a.client, a.request_id, a.images) for a in alerts] == [("a", "a3", 16)]


def test_near_duplicate_and_off_distribution_rules_count_images_and_requests():
    log = [_record("x", near=[1.0, 9.0, 2.0, None], rid=f"x{i}") for i in range(3)]
    log += [_record("y", mean=0.5, rid=f"y{i}") for i in range(3)]
    found = rules.run_rules(
        [
            {"kind": "near_duplicates", "max_l2": 2.0, "min_count": 5},
            {"kind": "off_distribution", "low": 0.05, "high": 0.3, "min_count": 2, "name": "ink"},
        ],
        log,
    )
    assert [(a.rule, a.client, a.request_id) for a in found] == [
        ("near_duplicates", "x", "x2"),
        ("ink", "y", "y1"),
    ]


def test_refusal_rule_counts_429_and_422_only():
    log = [_record("z", status=429, n=0), _record("z", status=401, n=0), _record("z", status=422, n=0)]
    assert rules.run_rules([{"kind": "refusals", "min_count": 2}], log)[0].request_id == "r"
    assert not rules.run_rules([{"kind": "refusals", "min_count": 3}], log)


def test_watermark_changes_a_keyed_share_of_answers_and_remembers_them():
    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    x = torch.rand(400, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    marked_model = watermark.WatermarkedModel(base, key=b"k" * 32, rate=0.1).eval()
    with torch.no_grad():
        clean, served = base(x).argmax(1), marked_model(x).argmax(1)
    inputs, labels = marked_model.marked
    changed = clean != served
    assert 20 <= int(changed.sum()) <= 60 and len(labels) == int(changed.sum())
    assert torch.equal(labels, served[changed]) and (labels != clean[changed]).all()
    again = watermark.WatermarkedModel(base, key=b"k" * 32, rate=0.1).eval()
    other = watermark.WatermarkedModel(base, key=b"j" * 32, rate=0.1).eval()
    with torch.no_grad():
        assert torch.equal(again(x).argmax(1), served)
        assert not torch.equal(other(x).argmax(1), served)
    stolen = watermark.theft_evidence(marked_model, inputs, labels)
    innocent = watermark.theft_evidence(base, inputs, labels)
    assert stolen.proven() and stolen.matches == len(labels)
    assert not innocent.proven() and innocent.matches == 0


def test_binomial_tail_matches_the_closed_form():
    assert watermark.binomial_tail(0, 5, 0.3) == pytest.approx(1.0)
    assert watermark.binomial_tail(5, 5, 0.3) == pytest.approx(0.3**5)
    assert watermark.binomial_tail(2, 3, 0.5) == pytest.approx(0.5)
    assert math.isclose(watermark.binomial_tail(1, 10, 0.1), 1 - 0.9**10)


def test_red_plan_defaults_and_queries():
    plan = red.check_red({"queries": 30, "source": "public"})
    assert plan["batch_size"] == red.RED_DEFAULTS["batch_size"] and plan["queries"] == 30
    for source in red.SOURCES:
        q = red.red_queries({"queries": 30, "source": source}, seed=2)
        assert q.shape == (30, 1, 28, 28) and 0 <= float(q.min()) and float(q.max()) <= 1
    with pytest.raises(ValueError, match="epsilon"):
        red.check_red({"epsilon": 0.31})


def test_reference_steal_stops_at_the_budget_and_keeps_soft_answers():
    queries = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    x, answers = red.steal(_FakeService(budget=70, policy="probabilities"), queries, batch_size=20)
    assert torch.equal(x, queries[:60]) and answers.shape == (60, 10) and answers.is_floating_point()
    x, answers = red.steal(_FakeService(budget=0, policy="label"), queries, batch_size=20)
    assert len(x) == 0 and len(answers) == 0


def test_blue_config_is_checked_and_filled_in():
    blue = capstone.check_blue(
        {"policy": "top-k", "top_k": 2, "rules": [{"kind": "volume", "max_images": 9}]}
    )
    assert blue["budget"] is None and blue["rules"][0]["name"] == "volume"
    with pytest.raises(ValueError, match=r"config\['rules'\]"):
        capstone.check_blue({"rules": [{"kind": "volume"}]})
    with pytest.raises(ValueError, match="colour"):
        capstone.check_blue({"colour": "blue"})


def test_run_round_refuses_bad_arguments_before_serving():
    with pytest.raises(ValueError, match="tellers"):
        capstone.run_round({}, {}, tellers=1)
    with pytest.raises(TypeError, match="steal"):
        capstone.run_round({}, {}, steal="loop")


@pytest.mark.slow
def test_a_quick_round_on_the_real_service(tmp_path):
    blue = {
        "policy": "label",
        "budget": 300,
        "rules": [{"kind": "volume", "max_images": 120}],
        "watermark": 0.1,
    }
    plan = {"queries": 400, "epochs": 1, "tries": 1}
    result = capstone.run_round(blue, plan, tellers=20, log_path=tmp_path / "log.jsonl", progress=False)
    assert result.red_images <= 300
    assert result.detected_after is not None and result.detected_after > 120
    assert result.false_alerts == [] and result.theft is not None and result.theft.marked > 0
    assert 0.0 <= result.fidelity <= 1.0 and 0 <= result.evaded <= capstone.EVADE_COUNT
    table = scoreboard.scoreboard_table([result])
    assert table.count("\n") == 2 and "after" in table
    log = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(log) >= 20 // 8 + 300 // 50
    view = tune_rule(
        [__import__("json").loads(line) for line in log],
        {"kind": "volume", "max_images": 5},
        field="max_images",
        value=1000,
    )
    assert view.alerted == {}
