"""Bad-input table for the review-queue control (module 00) and the query-budget control (module 10)."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import Bad, Entry, _nan_pixel, closing_figures

NOT_INPUT_TAKING = {"labkit.widgets.review_queue.QueuePoint": "result record built by review_curve"}

BUDGETS = [250, 500]
CURVES = {"probabilities": [(0.5, 0.5), (0.6, 0.6)], "label": [(0.4, 0.4), (0.5, 0.5)]}


def _triage(logits: torch.Tensor, threshold: float) -> Any:  # noqa: ANN401
    from labkit.checks.m00_orientation import reference_triage

    return reference_triage(logits, threshold)


def _curve() -> Any:  # noqa: ANN401
    from labkit.checks.m00_orientation import reference_triage
    from labkit.widgets import review_curve

    logits = torch.tensor([[3.0, 0.0], [0.0, 0.2], [0.1, 0.0]])
    return review_curve(logits, torch.tensor([0, 0, 0]), thresholds=[0.5, 0.9], triage=reference_triage)


def _points() -> Any:  # noqa: ANN401
    from labkit.widgets import budget_points

    return budget_points(BUDGETS, CURVES)


CURVE_BAD = [[], 3, "x", [3]]


def cases() -> dict[str, Entry]:
    return {
        "labkit.widgets.review_queue.review_curve": Entry(
            lambda: dict(
                logits=torch.randn(4, 10), labels=torch.tensor([0, 1, 2, 3]), thresholds=[0.9], triage=_triage
            ),
            {
                "logits": [
                    Bad("nan", _nan_pixel),
                    Bad("empty", lambda x: x[:0]),
                    Bad("1-dim", lambda x: x[0]),
                ],
                "labels": [
                    Bad("float-labels", lambda y: y.float()),
                    Bad("one-short", lambda y: y[:-1]),
                    Bad("class-99", lambda y: y + 99),
                ],
                "thresholds": [[], "0.9", [float("nan")], [1.5], [-0.1]],
                "triage": [3, Bad("wrong-output", lambda _: lambda lg, t: (lg.argmax(1), lg[:, 0]))],
            },
        ),
        "labkit.widgets.review_queue.render_review_queue": Entry(
            lambda: dict(curve=_curve(), index=0),
            {"curve": CURVE_BAD, "index": [2, -1, 1.5]},
            call=closing_figures,
        ),
        "labkit.widgets.review_queue.ReviewQueueExplorer": Entry(
            lambda: dict(curve=_curve(), selected=0), {"curve": CURVE_BAD, "selected": [2, -1, "0"]}
        ),
        "labkit.widgets.review_queue.review_queue_explorer": Entry(
            lambda: dict(curve=_curve()), {"curve": CURVE_BAD, "selected": [2, -1, 1.5]}
        ),
        "labkit.widgets.query_budget.budget_points": Entry(
            lambda: dict(budgets=BUDGETS, curves=CURVES),
            {
                "budgets": [[], "250", [0, 1], [2.5, 3]],
                "curves": [
                    {},
                    3,
                    {"label": [(0.4, 0.4)]},
                    {"label": [(1.4, 0.4), (0.5, 0.5)]},
                    {"label": [(0.4,), (0.5, 0.5)]},
                    {"": [(0.4, 0.4), (0.5, 0.5)]},
                ],
            },
        ),
        "labkit.widgets.query_budget.render_query_budget": Entry(
            lambda: dict(points=_points(), selected=0),
            {"points": [[], 3, [3]], "selected": [2, -1, 1.5]},
            call=closing_figures,
        ),
        "labkit.widgets.query_budget.QueryBudgetExplorer": Entry(
            lambda: dict(points=_points(), selected=0), {"points": [[], 3], "selected": [2, -1]}
        ),
        "labkit.widgets.query_budget.query_budget_explorer": Entry(
            lambda: dict(budgets=BUDGETS, curves=CURVES),
            {"budgets": [[], "250"], "curves": [{}, 3], "selected": [2, -1, 1.5]},
        ),
    }
