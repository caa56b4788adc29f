"""labkit.widgets.query_budget: module 10's query-budget slider, driven from Python."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from labkit.widgets import budget_points, query_budget_explorer  # noqa: E402

BUDGETS = [250, 1000, 2000]
CURVES = {
    "probabilities": [(0.5, 0.49), (0.7, 0.69), (0.8, 0.79)],
    "label": [(0.3, 0.3), (0.5, 0.5), (0.6, 0.6)],
}


def test_points_carry_every_policy_at_every_budget():
    points = budget_points(BUDGETS, CURVES)
    assert [p.x for p in points] == [250.0, 1000.0, 2000.0]
    assert points[1].values == {
        "fidelity (probabilities)": 0.7,
        "accuracy (probabilities)": 0.69,
        "fidelity (label)": 0.5,
        "accuracy (label)": 0.5,
    }


def test_the_slider_changes_what_the_explorer_shows():
    explorer = query_budget_explorer(BUDGETS, CURVES)
    assert (
        explorer.status.value.startswith("250 queries:")
        and "fidelity (probabilities) 50.0%" in explorer.status.value
    )
    explorer.slider.value = 2
    assert explorer.status.value.startswith("2,000 queries:")
    assert (
        "fidelity (probabilities) 80.0%" in explorer.status.value
        and "fidelity (label) 60.0%" in explorer.status.value
    )


def test_curves_must_match_the_budgets():
    with pytest.raises(ValueError, match="one \\(fidelity, accuracy\\) pair per budget"):
        budget_points(BUDGETS, {"label": [(0.3, 0.3)]})
    with pytest.raises(ValueError, match="fidelity"):
        budget_points(BUDGETS, {"label": [(1.3, 0.3), (0.5, 0.5), (0.6, 0.6)]})
    with pytest.raises(ValueError, match="budgets"):
        budget_points([0, 1, 2], CURVES)


def test_render_marks_the_budget_and_labels_the_ticks_plainly():
    import matplotlib.pyplot as plt

    from labkit.widgets import render_query_budget

    fig = render_query_budget(budget_points(BUDGETS, CURVES), selected=1)
    try:
        ax = fig.axes[0]
        assert ax.get_title() == "the copy an attacker gets with 1,000 queries"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["250", "1,000", "2,000"]
        assert [line.get_label() for line in ax.get_lines()][:2] == [
            "fidelity (probabilities)",
            "accuracy (probabilities)",
        ]
    finally:
        plt.close(fig)
